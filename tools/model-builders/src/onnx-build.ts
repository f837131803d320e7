/**
 * Small helpers for building ONNX graphs in code (onnx-proto): the project's own test and
 * benchmark models, whose outputs are known exactly.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Little-endian float32 bytes, as ONNX raw_data requires. */
export function float32Raw(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

/** A float32 graph input/output; a string dimension is a named dynamic one. */
export function floatValueInfo(name: string, dims: readonly (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}
