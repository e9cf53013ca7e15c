// Prints the exact JSON body the client posts to :predict for the image files given as arguments.
import { readFileSync } from "node:fs";
import { predictRequestBody } from "../../../client/request";

process.stdout.write(JSON.stringify(predictRequestBody(process.argv.slice(2).map((f) => readFileSync(f)))));
