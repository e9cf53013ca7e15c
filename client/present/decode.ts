// Decoding with jimp's pure-JS codecs, picked by magic bytes.
import { defaultFormats, Jimp } from "jimp";
import { OdapiError } from "../../common/errors";
import { type ImageFormat, sniffFormat } from "../image";

const MIME: Record<ImageFormat, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  bmp: "image/bmp",
};
const codecs = defaultFormats.map((f) => f());

/**
 * Decodes to RGBA pixels without applying EXIF orientation: TensorFlow's decode_image ignores it too,
 * so boxes from the model line up with these pixels. (Jimp.fromBuffer also sniffs the type through a
 * dynamic import, which fails inside jest's VM; picking the codec here avoids that.)
 */
export async function decodeImage(bytes: Buffer, name = "image"): Promise<InstanceType<typeof Jimp>> {
  const format = sniffFormat(bytes);
  const codec = format && codecs.find((c) => c.mime === MIME[format]);
  if (!codec?.decode) {
    throw new OdapiError(
      `${name} is not a JPEG, PNG, GIF or BMP image`,
      "pass a JPEG or PNG file",
      "notAnImage",
    );
  }
  try {
    return Jimp.fromBitmap(await codec.decode(bytes));
  } catch (e) {
    throw new OdapiError(
      `${name} could not be decoded as ${format}: ${(e as Error).message}`,
      "re-save the picture as JPEG or PNG",
      "notAnImage",
      { cause: e },
    );
  }
}
