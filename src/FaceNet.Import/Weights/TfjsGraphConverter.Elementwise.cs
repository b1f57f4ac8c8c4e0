using System.Globalization;
using System.Text;
using System.Text.Json;
using FaceNet.Onnx;
using FaceNet.Import.Onnx;

namespace FaceNet.Import.Weights;

internal static partial class TfjsGraphConverter
{
    // activations, unary and binary ops, constants folded and broadcast
    private sealed partial class Converter
    {
        private Value Activation(Value x, string activation, string name, float alpha)
        {
            var input = Materialize(x);
            string y = activation switch
            {
                "Relu" => _g.Relu(input, name),
                "Relu6" => _g.Node("Clip", [input, Scalar(name + "/min", 0), Scalar(name + "/max", 6)], name),
                "Elu" => _g.Node("Elu", [input], name),
                "Sigmoid" => _g.Node("Sigmoid", [input], name),
                "Tanh" => _g.Node("Tanh", [input], name),
                "LeakyRelu" => _g.Node("LeakyRelu", [input], name, OnnxGraphBuilder.Float("alpha", alpha)),
                _ when activation.StartsWith("Prelu:", StringComparison.Ordinal) => _g.PRelu(input, Broadcast(Get(activation[6..]), x, name + "/alpha"), name),
                _ => throw new ArgumentException($"activation {activation}"),
            };
            return Like(x, y);
        }

        // ----- element-wise -----

        private Value Unary(string op, TfNode n)
        {
            var x = Get(n.Inputs[0]);
            if (x.IsConst) // folded here: converters leave some arithmetic on constants in the graph
            {
                Func<float, float> f = op switch
                {
                    "Relu" => v => MathF.Max(v, 0), "Sigmoid" => v => 1 / (1 + MathF.Exp(-v)), "Tanh" => MathF.Tanh, "Abs" => MathF.Abs,
                    "Neg" => v => -v, "Sqrt" => MathF.Sqrt, "Exp" => MathF.Exp, "Elu" => v => v >= 0 ? v : MathF.Exp(v) - 1,
                    _ => throw new ArgumentException($"{op} of a constant"),
                };
                return new Value { Const = x.Const!.Select(f).ToArray(), Shape = x.Shape };
            }
            return Like(x, _g.Node(op, [Materialize(x)], n.Name));
        }

        private Value Binary(string op, TfNode n)
        {
            var a = Get(n.Inputs[0]);
            var b = Get(n.Inputs[1]);
            if (a.IsConst && b.IsConst) return Fold(op, a, b);
            var shape = BroadcastShape(a.Shape, b.Shape);
            bool nchw = shape.Length == 4 && (a.Nchw || b.Nchw);
            if (nchw)
                foreach (var v in new[] { a, b })
                    if (!v.IsConst && !v.Nchw && v.Shape.Any(d => d != 1))
                        throw new ArgumentException($"broadcasting a computed [{string.Join(",", v.Shape)}] tensor against a feature map");
            string left = a.IsConst ? ConstFor(a, shape.Length, nchw, n.Name + "/a") : Materialize(a);
            string right = b.IsConst ? ConstFor(b, shape.Length, nchw, n.Name + "/b") : Materialize(b);
            return new Value { Onnx = _g.Node(op, [left, right], n.Name), Shape = shape, Nchw = nchw };
        }

        /// <summary>An element-wise op on two constants (same shape, or one a single value), computed here.</summary>
        private static Value Fold(string op, Value a, Value b)
        {
            Func<float, float, float> f = op switch
            {
                "Add" => (x, y) => x + y, "Sub" => (x, y) => x - y, "Mul" => (x, y) => x * y, "Div" => (x, y) => x / y,
                "Max" => MathF.Max, "Min" => MathF.Min, _ => throw new ArgumentException($"{op} of constants"),
            };
            float[] ca = a.Const!, cb = b.Const!;
            if (ca.Length == cb.Length && a.Shape.SequenceEqual(b.Shape)) return new Value { Const = ca.Select((v, i) => f(v,
                cb[i])).ToArray(), Shape = a.Shape };
            if (cb.Length == 1) return new Value { Const = ca.Select(v => f(v, cb[0])).ToArray(), Shape = a.Shape };
            if (ca.Length == 1) return new Value { Const = cb.Select(v => f(ca[0], v)).ToArray(), Shape = b.Shape };
            throw new ArgumentException($"{op} of constants shaped [{string.Join(",", a.Shape)}] and [{string.Join(",", b.Shape)}]");
        }

        /// <summary>A constant operand for an element-wise op of the given rank: channel-first when the result is a feature map.</summary>
        private string ConstFor(Value c, int rank, bool nchw, string name) => nchw ? Broadcast(c,
            new Value { Shape = new long[4], Nchw = true }, name) : _g.Initializer(name, c.Const!, c.Shape.Length == 0 ? [] : c.Shape);

        /// <summary>A constant laid out to broadcast against <paramref name="like"/> (NCHW when it is a feature map).</summary>
        private string Broadcast(Value c, Value like, string name)
        {
            if (!c.IsConst) return Materialize(c);
            if (!like.Nchw) return _g.Initializer(name, c.Const!, c.Shape.Length == 0 ? [] : c.Shape);
            if (c.Rank > 4) throw new ArgumentException("a constant of rank > 4");
            var s = Enumerable.Repeat(1L, 4 - c.Rank).Concat(c.Shape).ToArray(); // N H W C
            var data = new float[c.Const!.Length];
            long sn = s[0], sh = s[1], sw = s[2], sc = s[3];
            for (long i = 0; i < sn; i++)
            for (long y = 0; y < sh; y++)
            for (long x = 0; x < sw; x++)
            for (long ch = 0; ch < sc; ch++)
                data[((i * sc + ch) * sh + y) * sw + x] = c.Const[((i * sh + y) * sw + x) * sc + ch];
            return _g.Initializer(name, data, sn, sc, sh, sw);
        }

        private static long[] BroadcastShape(long[] a, long[] b)
        {
            int r = Math.Max(a.Length, b.Length);
            var s = new long[r];
            for (int i = 0; i < r; i++)
            {
                long da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1, db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
                s[i] = da == 1 ? db : db == 1 ? da : da == db ? da : da < 0 || db < 0 ? Math.Max(da, db)
                    : throw new ArgumentException($"shapes [{string.Join(",", a)}] and [{string.Join(",", b)}] do not broadcast");
            }
            return s;
        }

        // ----- shapes -----
    }
}
