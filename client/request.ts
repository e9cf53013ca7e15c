// The exact JSON body the client posts to TF Serving's :predict (row format, binary input as {"b64": …}).

export interface PredictRequestBody {
  instances: { b64: string }[];
}

/**
 * Row-format body for a signature whose single input is DT_STRING (encoded image bytes).
 * TF Serving decodes `{"b64": …}` only for DT_STRING inputs, and standard (not URL-safe) base64 is required.
 */
export function predictRequestBody(images: Buffer[]): PredictRequestBody {
  return { instances: images.map((image) => ({ b64: image.toString("base64") })) };
}
