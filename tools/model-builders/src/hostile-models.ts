/**
 * Hostile ONNX models built in code (onnx-proto), for the tests that prove uploaded models
 * are contained: each passes the zero-input warm-up (so it validates and loads) and turns
 * bad only on a chosen input.
 */
import onnxProto from 'onnx-proto';
import { float32Raw, floatValueInfo } from './onnx-build.js';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

function int64ValueInfo(name: string, dims: readonly (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: T.INT64, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

function scalarInfo(name: string, elemType: number): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: [] } } } };
}

function encode(graph: onnxProto.onnx.IGraphProto, opset = 13): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, producerName: 'stratum-tests', opsetImport: [{ domain: '', version: opset }], graph })).finish();
}

export const BOMB_SHAPE_INPUT = 'shape';
export const BOMB_OUTPUT = 'y';

/**
 * OUTPUT BOMB: `y = ConstantOfShape(shape)` with `shape` an int64 [2] input. The warm-up
 * (zeros) yields an empty tensor; `[65536, 16384]` asks for 4 GiB of float32.
 */
export function buildOutputBomb(): Uint8Array {
  return encode({
    name: 'output_bomb',
    node: [{ opType: 'ConstantOfShape', input: [BOMB_SHAPE_INPUT], output: [BOMB_OUTPUT], name: 'bomb' }],
    input: [int64ValueInfo(BOMB_SHAPE_INPUT, [2])],
    output: [floatValueInfo(BOMB_OUTPUT, ['rows', 'cols'])],
  });
}

export const LOOP_TRIPS_INPUT = 'trips';

/**
 * LOOP BOMB: a `Loop` whose trip count is the int64 [1] input `trips`, adding 1 to a
 * counter each turn. The warm-up (0 trips) is instant; `[1e15]` never ends.
 */
export function buildLoopBomb(): Uint8Array {
  const body: onnxProto.onnx.IGraphProto = {
    name: 'body',
    initializer: [{ name: 'one', dims: [1], dataType: T.FLOAT, rawData: float32Raw([1]) }],
    node: [
      { opType: 'Identity', input: ['cond_in'], output: ['cond_out'], name: 'keep_going' },
      { opType: 'Add', input: ['count_in', 'one'], output: ['count_out'], name: 'count' },
    ],
    input: [scalarInfo('iter', T.INT64), scalarInfo('cond_in', T.BOOL), floatValueInfo('count_in', [1])],
    output: [scalarInfo('cond_out', T.BOOL), floatValueInfo('count_out', [1])],
  };
  return encode({
    name: 'loop_bomb',
    initializer: [
      { name: 'start', dims: [1], dataType: T.FLOAT, rawData: float32Raw([0]) },
      { name: 'scalar_shape', dims: [0], dataType: T.INT64, int64Data: [] },
      { name: 'yes', dims: [], dataType: T.BOOL, int32Data: [1] },
    ],
    node: [
      { opType: 'Reshape', input: [LOOP_TRIPS_INPUT, 'scalar_shape'], output: ['m'], name: 'to_scalar' },
      { opType: 'Loop', input: ['m', 'yes', 'start'], output: [BOMB_OUTPUT], name: 'loop', attribute: [{ name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: body }] },
    ],
    input: [int64ValueInfo(LOOP_TRIPS_INPUT, [1])],
    output: [floatValueInfo(BOMB_OUTPUT, [1])],
  });
}

/**
 * A model whose weight points at an external data file (`data_location = EXTERNAL`): onnxruntime
 * would read that file (any path it names) as the tensor's bytes. `where`: the initializer
 * (default) or a `Constant` node's tensor attribute.
 */
export function buildExternalDataModel(location = '/etc/passwd', where: 'initializer' | 'constant' = 'initializer'): Uint8Array {
  const tensor: onnxProto.onnx.ITensorProto = {
    name: 'W',
    dims: [4],
    dataType: T.FLOAT,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: location },
      { key: 'offset', value: '0' },
      { key: 'length', value: '16' },
    ],
  };
  const graph: onnxProto.onnx.IGraphProto =
    where === 'initializer'
      ? { name: 'external', initializer: [tensor], node: [{ opType: 'Add', input: ['x', 'W'], output: ['y'] }], input: [floatValueInfo('x', [4])], output: [floatValueInfo('y', [4])] }
      : {
          name: 'external',
          node: [
            { opType: 'Constant', output: ['W'], attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: tensor }] },
            { opType: 'Add', input: ['x', 'W'], output: ['y'] },
          ],
          input: [floatValueInfo('x', [4])],
          output: [floatValueInfo('y', [4])],
        };
  return encode(graph);
}
