import { describe, expect, it } from '@jest/globals';
import { buildExternalDataModel, buildLoopBomb, buildTinyClassifier, TINY_CLASSIFIER_SPEC } from '#tools/model-builders';
import onnxProto from 'onnx-proto';
import { checkOnnxBytes } from './checks.js';

const { onnx } = onnxProto;

describe('checkOnnxBytes: external data', () => {
  it('refuses a weight stored in an external file', () => {
    expect(checkOnnxBytes(buildExternalDataModel('/etc/passwd'))).toEqual({ ok: false, reason: 'external_data', message: expect.stringContaining('"/etc/passwd"') });
  });

  it("refuses it in a Constant node's tensor too", () => {
    expect(checkOnnxBytes(buildExternalDataModel('../../secrets', 'constant'))).toMatchObject({ ok: false, reason: 'external_data' });
  });

  it("refuses it inside a Loop's body (a subgraph)", () => {
    const model = onnx.ModelProto.decode(buildLoopBomb());
    const body = model.graph!.node!.find((n) => n.opType === 'Loop')!.attribute![0]!.g!;
    body.initializer![0]!.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    body.initializer![0]!.externalData = [{ key: 'location', value: 'weights.bin' }];
    expect(checkOnnxBytes(onnx.ModelProto.encode(model).finish())).toMatchObject({ ok: false, reason: 'external_data' });
  });

  it('accepts self-contained models', () => {
    expect(checkOnnxBytes(buildTinyClassifier(TINY_CLASSIFIER_SPEC))).toEqual({ ok: true });
    expect(checkOnnxBytes(buildLoopBomb())).toEqual({ ok: true });
  });
});
