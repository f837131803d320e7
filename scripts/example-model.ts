// `npm run -s example:model > model.onnx`: writes a tiny ONNX classifier to stdout, the model the
// README's upload example sends. softmax(x · W + b): input `x` float32 [batch, 4], output `probs`
// float32 [batch, 3]; built in code (tools/model-builders), nothing is downloaded.
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTinyClassifier, TINY_CLASSIFIER_SPEC } from '#tools/model-builders';

export function exampleModel(): Uint8Array {
  return buildTinyClassifier(TINY_CLASSIFIER_SPEC);
}

if (process.argv[1] && realpathSync(resolve(process.argv[1])) === fileURLToPath(import.meta.url)) {
  if (process.stdout.isTTY) {
    process.stderr.write('example:model writes ONNX bytes to stdout: redirect it, e.g. `npm run -s example:model > model.onnx`\n');
    process.exitCode = 1;
  } else {
    process.stdout.write(exampleModel());
  }
}
