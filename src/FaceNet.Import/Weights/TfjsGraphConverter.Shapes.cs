using System.Globalization;
using System.Text;
using System.Text.Json;
using FaceNet.Onnx;
using FaceNet.Import.Onnx;

namespace FaceNet.Import.Weights;

internal static partial class TfjsGraphConverter
{
    // reductions, reshapes, padding, pooling, concatenation and the NHWC/NCHW layouts
    private sealed partial class Converter
    {
        private static readonly int[] ToNchwAxis = [0, 2, 3, 1];

        private Value Reduce(TfNode n)
        {
            var x = Get(n.Inputs[0]);
            var axes = ConstOf(n.Inputs[1]).Select(a => (int)a).Select(a => a < 0 ? a + x.Rank : a).Distinct().OrderBy(a => a).ToArray();
            bool keep = n.Bool("keep_dims") || n.Bool("keepdims");
            string op = n.Op switch { "Mean" => "ReduceMean", "Sum" => "ReduceSum", "Max" => "ReduceMax", "Min" => "ReduceMin", _ => "ReduceProd" };
            var input = x;
            // Reducing H and W of a feature map leaves [N, C] in either layout; any other reduction works on NHWC.
            bool spatial = x.Nchw && axes.Contains(1) && axes.Contains(2) && !axes.Contains(3);
            if (x.Nchw && !keep && !spatial) input = ToNhwc(x, n.Name);
            var onnxAxes = input.Nchw ? axes.Select(a => (long)ToNchwAxis[a]).ToArray() : axes.Select(a => (long)a).ToArray();
            string y = op == "ReduceSum"
                ? _g.Node(op, [Materialize(input), _g.InitializerInt64(n.Name + "/axes", onnxAxes, onnxAxes.Length)], n.Name,
                    OnnxGraphBuilder.Int("keepdims", keep ? 1 : 0))
                : _g.Node(op, [Materialize(input)], n.Name, OnnxGraphBuilder.Ints("axes", onnxAxes), OnnxGraphBuilder.Int("keepdims", keep ? 1 : 0));
            var shape = keep ? x.Shape.Select((d, i) => axes.Contains(i) ? 1 : d).ToArray() : x.Shape.Where((_, i) => !axes.Contains(i)).ToArray();
            return new Value { Onnx = y, Shape = shape, Nchw = keep && input.Nchw };
        }

        private Value Squeeze(TfNode n)
        {
            var x = Get(n.Inputs[0]);
            var dims = n.Ints("squeeze_dims");
            if (dims.Length == 0) dims = n.Ints("axis");
            var axes = dims.Length > 0 ? dims.Select(a => a < 0 ? a
                + x.Rank : a).ToArray() : x.Shape.Select((d, i) => (d, i)).Where(p => p.d == 1).Select(p => (long)p.i).ToArray();
            var input = x;
            bool spatial = x.Nchw && axes.Order().SequenceEqual([1L, 2L]);
            if (x.Nchw && !spatial) input = ToNhwc(x, n.Name);
            var onnxAxes = input.Nchw ? axes.Select(a => (long)ToNchwAxis[a]).ToArray() : axes;
            var y = _g.Node("Squeeze", [Materialize(input), _g.InitializerInt64(n.Name + "/axes", onnxAxes, onnxAxes.Length)], n.Name);
            return new Value { Onnx = y, Shape = x.Shape.Where((_, i) => !axes.Contains(i)).ToArray() };
        }

        private Value Reshape(TfNode n)
        {
            var x = Get(n.Inputs[0]);
            var target = ConstOf(n.Inputs[1]).Select(v => (long)v).ToArray();
            var input = x.Nchw ? ToNhwc(x, n.Name) : x;
            long known = x.Shape.Skip(1).Aggregate(1L, (a, d) => d > 0 && a > 0 ? a * d : -1);
            // The batch stays free: a converter that baked batch 1 into the target gets it back.
            if (target.Length >= 1 && known > 0 && target.Skip(1).All(d => d > 0) && target.Skip(1).Aggregate(1L, (a, d) => a * d) == known) target[0] = -1;
            var shape = target.ToArray();
            if (shape.Count(d => d == -1) == 1 && known > 0 && shape[0] != -1)
            {
                long rest = shape.Where(d => d != -1).Aggregate(1L, (a, d) => a * d);
                shape[Array.IndexOf(shape, -1L)] = known / rest;
            }
            var y = _g.Node("Reshape", [Materialize(input), _g.InitializerInt64(n.Name + "/shape", target, target.Length)], n.Name);
            var result = new Value { Onnx = y, Shape = shape };
            return shape.Length == 4 ? ToNchw(result, n.Name) : result;
        }

        private Value Pad(TfNode n)
        {
            var x = Get(n.Inputs[0]);
            var p = ConstOf(n.Inputs[1]).Select(v => (long)v).ToArray();
            if (p.Length != 2 * x.Rank) throw new ArgumentException("paddings do not match the input's rank");
            var order = x.Nchw ? new[] { 0, 3, 1, 2 } : Enumerable.Range(0, x.Rank).ToArray();
            var pads = order.Select(a => p[2 * a]).Concat(order.Select(a => p[2 * a + 1])).ToArray();
            var inputs = new List<string> { Materialize(x), _g.InitializerInt64(n.Name + "/pads", pads, pads.Length) };
            string mode = "constant";
            if (n.Op == "PadV2") inputs.Add(_g.Initializer(n.Name + "/value", [ConstOf(n.Inputs[2])[0]]));
            if (n.Op == "MirrorPad")
                mode = n.String("mode") == "REFLECT" ? "reflect" : throw new ArgumentException($"mirror padding {n.String("mode")} (only REFLECT)");
            var y = _g.Node("Pad", [.. inputs], n.Name,
                new FaceNet.Onnx.Proto.AttributeProto { Name = "mode", Type = FaceNet.Onnx.Proto.AttributeProto.Types.AttributeType.String,
                S = Google.Protobuf.ByteString.CopyFromUtf8(mode) });
            return new Value { Onnx = y, Shape = x.Shape.Select((d, i) => d < 0 ? d : d + p[2 * i] + p[2 * i + 1]).ToArray(), Nchw = x.Nchw };
        }

        private Value Pool(TfNode n)
        {
            var x = Get(n.Inputs[0]);
            if (!x.Nchw) throw new ArgumentException("pooling needs a feature map");
            var k = n.Ints("ksize");
            var s = n.Ints("strides");
            if (k.Length != 4 || s.Length != 4 || k[0] != 1 || k[3] != 1) throw new ArgumentException("pooling over batch or channels");
            var (pads, oh, ow) = Padding(n, x.Shape[1], x.Shape[2], (int)k[1], (int)k[2], (int)s[1], (int)s[2]);
            var y = _g.Node(n.Op == "MaxPool" ? "MaxPool" : "AveragePool", [Materialize(x)], n.Name,
                OnnxGraphBuilder.Ints("kernel_shape", (int)k[1], (int)k[2]), OnnxGraphBuilder.Ints("strides", (int)s[1],
                    (int)s[2]), OnnxGraphBuilder.Ints("pads", pads));
            return new Value { Onnx = y, Shape = [x.Shape[0], oh, ow, x.Shape[3]], Nchw = true };
        }

        private Value Concat(TfNode n)
        {
            var parts = n.Inputs[..^1].Select(Get).ToArray();
            int axis = (int)ConstOf(n.Inputs[^1])[0];
            int rank = parts[0].Rank;
            if (axis < 0) axis += rank;
            bool nchw = parts.All(p => p.Nchw || p.IsConst) && parts.Any(p => p.Nchw);
            var names = parts.Select((p, i) => p.IsConst ? (nchw ? Broadcast(p, new Value { Shape = new long[4], Nchw = true },
                $"{n.Name}/c{i}") : _g.Initializer($"{n.Name}/c{i}", p.Const!, p.Shape)) : Materialize(p)).ToArray();
            var y = _g.Concat(nchw ? ToNchwAxis[axis] : axis, names, n.Name);
            var shape = parts[0].Shape.ToArray();
            shape[axis] = parts.Any(p => p.Shape[axis] < 0) ? -1 : parts.Sum(p => p.Shape[axis]);
            return new Value { Onnx = y, Shape = shape, Nchw = nchw };
        }

        // ----- helpers -----

        private Value ToNhwc(Value x, string name) => new() { Onnx = _g.Transpose(Materialize(x), [0, 2, 3, 1], name + "/to_nhwc"), Shape = x.Shape };

        private Value ToNchw(Value x, string name) => new() { Onnx = _g.Transpose(Materialize(x), [0, 3, 1, 2], name + "/to_nchw"),
            Shape = x.Shape, Nchw = true };

        private static Value Like(Value x, string onnx) => new() { Onnx = onnx, Shape = x.Shape, Nchw = x.Nchw };

        private static string Materialize(Value v) => v.Onnx ?? throw new ArgumentException("a constant where a computed tensor is needed");

        private string Scalar(string name, float value) => _g.Initializer(name, [value]);

        private float[] ConstOf(string input)
        {
            var v = Get(input);
            return v.Const ?? throw new ArgumentException($"input '{input}' must be a constant");
        }

        private long[] Shape(string input) => Get(input).Shape;
    }
}
