import { describe, expect, it } from '@jest/globals';
import { redactPaths } from './redact.js';

describe('redactPaths', () => {
  it("removes the upload's own path and any other absolute path from onnxruntime's messages", () => {
    const tmp = '/srv/stratum/models/incoming/0b9c1f7e-1d2a-4c3b-9e8f-123456789abc.onnx.part';
    const message = `onnxruntime could not load the model: Load model from ${tmp} failed:Fatal error: ai.onnx:NoSuchOperator(-1) is not a registered function/op (see /usr/lib/node_modules/onnxruntime-node/bin/x.so)`;
    const out = redactPaths(message, [tmp]);
    expect(out).toBe('onnxruntime could not load the model: Load model from <model file> failed:Fatal error: ai.onnx:NoSuchOperator(-1) is not a registered function/op (see <path>)');
    expect(redactPaths(message)).not.toContain('/srv/');
  });

  it('catches quoted paths, home paths and a bare upload file name, and leaves op names, ratios and URLs alone', () => {
    expect(redactPaths('file "/home/app/.stratum/models/sha256/ab.onnx" missing')).toBe('file "<path>" missing');
    expect(redactPaths("open('/tmp/x')")).toBe("open('<path>')");
    expect(redactPaths('wrote 0B9C1F7E-1D2A-4C3B-9E8F-123456789ABC.onnx.part')).toBe('wrote <path>');
    const harmless = 'Op com.microsoft:FusedConv in 1/2 of the graph, see https://onnx.ai/onnx/operators/ and a/b';
    expect(redactPaths(harmless)).toBe(harmless);
  });
});
