using FaceNet.Imaging;

namespace FaceNet.Detection;

/// <summary>
/// The seed's detector: a Haar cascade evaluated as OpenCV's <c>CascadeClassifier.detectMultiScale</c>
/// does, in managed code. The grey image is shrunk by each scale of the pyramid (bilinear) rather than
/// the features grown; windows are visited with a stride of 2 pixels below scale 2 (1 above), a window
/// that fails the first stage skips the next position, windows of nearly uniform brightness are
/// rejected by the variance test, and the raw hits are grouped by <c>groupRectangles</c>
/// (eps 0.2, at least <c>minNeighbors</c> + 1 similar boxes). No landmarks.
/// </summary>
public sealed class HaarDetector(HaarCascade cascade, HaarOptions? options = null) : IFaceDetector
{
    private const double GroupEps = 0.2;
    private readonly HaarOptions _options = options ?? new HaarOptions();

    public HaarDetector(string cascadePath, HaarOptions? options = null) : this(HaarCascade.Load(cascadePath), options) { }

    public string Name => "haar";

    public IReadOnlyList<DetectedFace> Detect(RgbImage image)
    {
        var raw = DetectRaw(image);
        return Nms.LargestFirst(Group(raw, _options.MinNeighbors, GroupEps)
            .Select(g => new DetectedFace(new FaceBox(g.Box.X, g.Box.Y, g.Box.W, g.Box.H), g.Neighbors, null)));
    }

    internal readonly record struct IntRect(int X, int Y, int W, int H);

    /// <summary>Every window the cascade accepts, before grouping.</summary>
    internal List<IntRect> DetectRaw(RgbImage image)
    {
        var gray = Gray(image);
        int w = image.Width, h = image.Height, ww = cascade.WindowWidth, wh = cascade.WindowHeight;
        int maxW = _options.MaxSize > 0 ? _options.MaxSize : w, maxH = _options.MaxSize > 0 ? _options.MaxSize : h;
        var scales = new List<double>();
        for (double factor = 1; ; factor *= _options.ScaleFactor)
        {
            int winW = (int)Math.Round(ww * factor, MidpointRounding.ToEven), winH = (int)Math.Round(wh * factor, MidpointRounding.ToEven);
            if (winW > maxW || winH > maxH || winW > w || winH > h) break;
            if (winW < _options.MinSize || winH < _options.MinSize) continue;
            scales.Add((float)factor); // OpenCV keeps the scales as float
        }
        var hits = new List<IntRect>();
        foreach (var factor in scales)
        {
            int sw = (int)Math.Round(w / factor, MidpointRounding.ToEven), sh = (int)Math.Round(h / factor, MidpointRounding.ToEven);
            var scaled = ResizeGray(gray, w, h, sw, sh);
            var (sum, sq) = Integral(scaled, sw, sh);
            int step = factor >= 2 ? 1 : 2;
            int winW = (int)Math.Round(ww * factor, MidpointRounding.ToEven), winH = (int)Math.Round(wh * factor, MidpointRounding.ToEven);
            int rows = sh + 1 - wh, cols = sw + 1 - ww;
            var found = new List<IntRect>[Math.Max(rows, 0)];
            var evaluator = new WindowEvaluator(cascade, sum, sq, sw + 1);
            Parallel.For(0, (rows + step - 1) / step, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, yi =>
            {
                int y = yi * step;
                for (int x = 0; x < cols; x += step)
                {
                    int result = evaluator.Run(x, y, sw + 1);
                    if (result > 0) (found[y] ??= new()).Add(new IntRect((int)Math.Round(x * factor, MidpointRounding.ToEven),
                        (int)Math.Round(y * factor, MidpointRounding.ToEven), winW, winH));
                    if (result == 0) x += step; // failed the first stage: OpenCV skips the next position too
                }
            });
            foreach (var f in found) if (f is not null) hits.AddRange(f);
        }
        return hits;
    }

    /// <summary>
    /// The cascade compiled for one integral-image stride: every tree node carries its feature's
    /// integral offsets and weights inline, so a window is evaluated with pointer arithmetic only.
    /// </summary>
    private sealed class WindowEvaluator
    {
        // Per node, 16 ints: 12 offsets (3 rectangles × 4 corners), left, right, and the float bits of
        // the threshold and of the third weight's presence; weights in a parallel float array.
        private readonly int[] _node;
        private readonly float[] _nodeF; // per node: w0, w1, w2, threshold
        private readonly int[] _treeFirstNode, _treeFirstLeaf;
        private readonly float[] _leaves;
        private readonly (int First, int Count, float Threshold)[] _stages;
        private readonly int[] _sum, _sq;
        private readonly int _n0, _n1, _n2, _n3;
        private readonly double _area;

        public WindowEvaluator(HaarCascade c, int[] sum, int[] sq, int stride)
        {
            _sum = sum; _sq = sq;
            _node = new int[c.Nodes.Length * 16];
            _nodeF = new float[c.Nodes.Length * 4];
            for (int n = 0; n < c.Nodes.Length; n++)
            {
                var node = c.Nodes[n];
                var rects = c.Features[node.Feature];
                for (int r = 0; r < rects.Length; r++)
                {
                    var rect = rects[r];
                    int b = n * 16 + r * 4;
                    _node[b] = rect.Y * stride + rect.X;
                    _node[b + 1] = rect.Y * stride + rect.X + rect.W;
                    _node[b + 2] = (rect.Y + rect.H) * stride + rect.X;
                    _node[b + 3] = (rect.Y + rect.H) * stride + rect.X + rect.W;
                    _nodeF[n * 4 + r] = rect.Weight;
                }
                _node[n * 16 + 12] = node.Left;
                _node[n * 16 + 13] = node.Right;
                _nodeF[n * 4 + 3] = node.Threshold;
            }
            _treeFirstNode = c.Trees.Select(t => t.FirstNode).ToArray();
            _treeFirstLeaf = c.Trees.Select(t => t.FirstLeaf).ToArray();
            _leaves = c.Leaves;
            _stages = c.Stages.Select(st => (st.FirstTree, st.TreeCount, st.Threshold)).ToArray();
            // The variance is measured on the window less a one-pixel border, as OpenCV's normrect.
            int nx = 1, ny = 1, nw = c.WindowWidth - 2, nh = c.WindowHeight - 2;
            _n0 = ny * stride + nx; _n1 = ny * stride + nx + nw; _n2 = (ny + nh) * stride + nx; _n3 = (ny + nh) * stride + nx + nw;
            _area = nw * nh;
        }

        /// <summary>1 when every stage accepts; −k when stage k rejects (0 for the first); −1 for a flat window.</summary>
        public unsafe int Run(int x, int y, int stride)
        {
            int p = y * stride + x;
            fixed (int* sumBase = _sum, sqBase = _sq, node = _node, treeNode = _treeFirstNode, treeLeaf = _treeFirstLeaf)
            fixed (float* nodeF = _nodeF, leaves = _leaves)
            {
                int* s = sumBase + p;
                int* q = sqBase + p;
                int valSum = s[_n0] - s[_n1] - s[_n2] + s[_n3];
                uint valSq = unchecked((uint)(q[_n0] - q[_n1] - q[_n2] + q[_n3]));
                double nf = _area * valSq - (double)valSum * valSum;
                if (nf <= 0) return -1;
                float norm = (float)(1.0 / Math.Sqrt(nf));
                if (!(_area * norm < 1e-1)) return -1;
                for (int si = 0; si < _stages.Length; si++)
                {
                    var (first, count, threshold) = _stages[si];
                    double total = 0;
                    for (int t = first; t < first + count; t++)
                    {
                        int root = treeNode[t], idx = 0;
                        do
                        {
                            int* n = node + (root + idx) * 16;
                            float* f = nodeF + (root + idx) * 4;
                            float v = f[0] * (s[n[0]] - s[n[1]] - s[n[2]] + s[n[3]]) + f[1] * (s[n[4]] - s[n[5]] - s[n[6]] + s[n[7]]);
                            if (f[2] != 0f) v += f[2] * (s[n[8]] - s[n[9]] - s[n[10]] + s[n[11]]);
                            double val = v * norm;
                            idx = val < f[3] ? n[12] : n[13];
                        }
                        while (idx > 0);
                        total += leaves[treeLeaf[t] - idx];
                    }
                    if (total < threshold) return -si;
                }
                return 1;
            }
        }
    }

    /// <summary>OpenCV's BGR→grey in fixed point: (4899·R + 9617·G + 1868·B + 2¹³) » 14.</summary>
    internal static byte[] Gray(RgbImage image)
    {
        var px = image.Pixels;
        var g = new byte[image.Width * image.Height];
        for (int i = 0; i < g.Length; i++)
            g[i] = (byte)((px[i * 3] * 4899 + px[i * 3 + 1] * 9617 + px[i * 3 + 2] * 1868 + 8192) >> 14);
        return g;
    }

    /// <summary>Bilinear, pixel centres aligned, as OpenCV's INTER_LINEAR (fixed-point weights of 11 bits).</summary>
    internal static byte[] ResizeGray(byte[] src, int w, int h, int dw, int dh)
    {
        if (dw == w && dh == h) return src;
        var dst = new byte[dw * dh];
        double sx = (double)w / dw, sy = (double)h / dh;
        var xs = new int[dw];
        var ax = new int[dw];
        for (int x = 0; x < dw; x++)
        {
            double fx = (x + 0.5) * sx - 0.5;
            int ix = (int)Math.Floor(fx);
            double f = fx - ix;
            if (ix < 0) { ix = 0; f = 0; }
            if (ix >= w - 1) { ix = w - 1; f = 0; }
            xs[x] = ix;
            ax[x] = (int)Math.Round(f * 2048, MidpointRounding.ToEven);
        }
        for (int y = 0; y < dh; y++)
        {
            double fy = (y + 0.5) * sy - 0.5;
            int iy = (int)Math.Floor(fy);
            double g = fy - iy;
            if (iy < 0) { iy = 0; g = 0; }
            if (iy >= h - 1) { iy = h - 1; g = 0; }
            int ay = (int)Math.Round(g * 2048, MidpointRounding.ToEven);
            int r0 = iy * w, r1 = Math.Min(iy + 1, h - 1) * w;
            for (int x = 0; x < dw; x++)
            {
                int x0 = xs[x], x1 = Math.Min(x0 + 1, w - 1), a = ax[x];
                int top = src[r0 + x0] * (2048 - a) + src[r0 + x1] * a;
                int bottom = src[r1 + x0] * (2048 - a) + src[r1 + x1] * a;
                long v = (long)top * (2048 - ay) + (long)bottom * ay;
                dst[y * dw + x] = (byte)Math.Clamp((v + (1 << 21)) >> 22, 0, 255);
            }
        }
        return dst;
    }

    /// <summary>Integral images of the values and their squares, (w+1)×(h+1); squares wrap like OpenCV's 32-bit ones.</summary>
    internal static (int[] Sum, int[] Sq) Integral(byte[] img, int w, int h)
    {
        int stride = w + 1;
        var sum = new int[stride * (h + 1)];
        var sq = new int[stride * (h + 1)];
        for (int y = 0; y < h; y++)
        {
            int rowSum = 0, rowSq = 0;
            for (int x = 0; x < w; x++)
            {
                int v = img[y * w + x];
                rowSum += v;
                unchecked { rowSq += v * v; }
                sum[(y + 1) * stride + x + 1] = sum[y * stride + x + 1] + rowSum;
                sq[(y + 1) * stride + x + 1] = unchecked(sq[y * stride + x + 1] + rowSq);
            }
        }
        return (sum, sq);
    }

    internal sealed record Grouped(IntRect Box, int Neighbors);

    /// <summary>OpenCV's groupRectangles: classes of similar boxes, averaged; classes of at most <paramref name="threshold"/> boxes and small boxes inside bigger classes dropped.</summary>
    internal static List<Grouped> Group(List<IntRect> rects, int threshold, double eps)
    {
        if (threshold <= 0) return rects.Select(r => new Grouped(r, 1)).ToList();
        int n = rects.Count;
        var parent = Enumerable.Range(0, n).ToArray();
        int Find(int i) { while (parent[i] != i) i = parent[i] = parent[parent[i]]; return i; }
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (Similar(rects[i], rects[j], eps)) parent[Find(i)] = Find(j);
        var classes = new Dictionary<int, (long X, long Y, long W, long H, int N)>();
        var order = new List<int>();
        for (int i = 0; i < n; i++)
        {
            int root = Find(i);
            if (!classes.TryGetValue(root, out var c)) { c = default; order.Add(root); }
            classes[root] = (c.X + rects[i].X, c.Y + rects[i].Y, c.W + rects[i].W, c.H + rects[i].H, c.N + 1);
        }
        var averaged = order.Select(root =>
        {
            var c = classes[root];
            float s = 1f / c.N;
            return new Grouped(new IntRect(RoundF(c.X * s), RoundF(c.Y * s), RoundF(c.W * s), RoundF(c.H * s)), c.N);
        }).ToList();
        var result = new List<Grouped>();
        foreach (var g in averaged)
        {
            if (g.Neighbors <= threshold) continue;
            bool inside = false;
            foreach (var other in averaged)
            {
                if (ReferenceEquals(other, g) || other.Neighbors <= threshold) continue;
                int dx = RoundF((float)(other.Box.W * eps)), dy = RoundF((float)(other.Box.H * eps));
                if (g.Box.X >= other.Box.X - dx && g.Box.Y >= other.Box.Y - dy &&
                    g.Box.X + g.Box.W <= other.Box.X + other.Box.W + dx && g.Box.Y + g.Box.H <= other.Box.Y + other.Box.H + dy &&
                    (other.Neighbors > Math.Max(3, g.Neighbors) || g.Neighbors < 3))
                { inside = true; break; }
            }
            if (!inside) result.Add(g);
        }
        return result;
    }

    private static int RoundF(float v) => (int)MathF.Round(v, MidpointRounding.ToEven);

    private static bool Similar(IntRect a, IntRect b, double eps)
    {
        double delta = eps * (Math.Min(a.W, b.W) + Math.Min(a.H, b.H)) * 0.5;
        return Math.Abs(a.X - b.X) <= delta && Math.Abs(a.Y - b.Y) <= delta &&
               Math.Abs(a.X + a.W - b.X - b.W) <= delta && Math.Abs(a.Y + a.H - b.Y - b.H) <= delta;
    }

    public void Dispose() { }
}
