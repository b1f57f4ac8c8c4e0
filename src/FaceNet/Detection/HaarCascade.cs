using System.Globalization;
using System.Xml.Linq;

namespace FaceNet.Detection;

/// <summary>
/// A boosted Haar cascade in OpenCV's XML format (<c>opencv-cascade-classifier</c>, as written by
/// traincascade and shipped with OpenCV, e.g. <c>haarcascade_frontalface_alt2.xml</c>): stages of
/// weak classifiers, each a small tree over Haar features of up to three weighted rectangles.
/// </summary>
public sealed class HaarCascade
{
    internal readonly record struct Node(int Left, int Right, int Feature, float Threshold);
    internal readonly record struct Rect(int X, int Y, int W, int H, float Weight);
    internal sealed record Stage(float Threshold, int FirstTree, int TreeCount);
    internal readonly record struct Tree(int FirstNode, int NodeCount, int FirstLeaf);

    private HaarCascade(int width, int height, Stage[] stages, Tree[] trees, Node[] nodes, float[] leaves, Rect[][] features)
    {
        WindowWidth = width;
        WindowHeight = height;
        Stages = stages;
        Trees = trees;
        Nodes = nodes;
        Leaves = leaves;
        Features = features;
    }

    public int WindowWidth { get; }
    public int WindowHeight { get; }
    internal Stage[] Stages { get; }
    internal Tree[] Trees { get; }
    internal Node[] Nodes { get; }
    internal float[] Leaves { get; }
    internal Rect[][] Features { get; }

    /// <summary>Loads a cascade file; a malformed or unsupported one is a <see cref="Embedding.ModelException"/>.</summary>
    public static HaarCascade Load(string path)
    {
        try
        {
            var doc = XDocument.Load(path);
            var cascade = doc.Root?.Elements().FirstOrDefault(e => (string?)e.Attribute("type_id") == "opencv-cascade-classifier")
                ?? throw new FormatException("no <cascade type_id=\"opencv-cascade-classifier\"> (old-format cascades are not supported)");
            if ((string?)cascade.Element("stageType") != "BOOST" || (string?)cascade.Element("featureType") != "HAAR")
                throw new FormatException("only BOOST cascades of HAAR features are supported");
            if (int.Parse(cascade.Element("featureParams")?.Element("maxCatCount")?.Value ?? "0", CultureInfo.InvariantCulture) != 0)
                throw new FormatException("categorical (LBP) cascades are not supported");
            int width = int.Parse(cascade.Element("width")!.Value, CultureInfo.InvariantCulture);
            int height = int.Parse(cascade.Element("height")!.Value, CultureInfo.InvariantCulture);
            var stages = new List<Stage>();
            var trees = new List<Tree>();
            var nodes = new List<Node>();
            var leaves = new List<float>();
            foreach (var s in cascade.Element("stages")!.Elements("_"))
            {
                // OpenCV lowers each stage threshold by 1e-5 when it loads a cascade.
                float threshold = Float(s.Element("stageThreshold")!.Value) - 1e-5f;
                int first = trees.Count;
                foreach (var w in s.Element("weakClassifiers")!.Elements("_"))
                {
                    var inner = Numbers(w.Element("internalNodes")!.Value);
                    var leafValues = Numbers(w.Element("leafValues")!.Value);
                    if (inner.Length % 4 != 0 || leafValues.Length != inner.Length / 4 + 1) throw new FormatException("malformed weak classifier");
                    trees.Add(new Tree(nodes.Count, inner.Length / 4, leaves.Count));
                    for (int i = 0; i < inner.Length; i += 4)
                        nodes.Add(new Node((int)inner[i], (int)inner[i + 1], (int)inner[i + 2], (float)inner[i + 3]));
                    leaves.AddRange(leafValues.Select(v => (float)v));
                }
                stages.Add(new Stage(threshold, first, trees.Count - first));
            }
            var features = new List<Rect[]>();
            foreach (var f in cascade.Element("features")!.Elements("_"))
            {
                if ((f.Element("tilted")?.Value.Trim() ?? "0") != "0") throw new FormatException("tilted Haar features are not supported");
                features.Add(f.Element("rects")!.Elements("_").Select(r =>
                {
                    var v = Numbers(r.Value);
                    return new Rect((int)v[0], (int)v[1], (int)v[2], (int)v[3], (float)v[4]);
                }).ToArray());
            }
            if (nodes.Any(n => n.Feature < 0 || n.Feature >= features.Count)) throw new FormatException("a node refers to a missing feature");
            if (features.Any(f => f.Length is < 1 or > 3 || f.Any(r => r.X < 0 || r.Y < 0 || r.X + r.W > width || r.Y + r.H > height)))
                throw new FormatException("a feature rectangle lies outside the window");
            return new HaarCascade(width, height, stages.ToArray(), trees.ToArray(), nodes.ToArray(), leaves.ToArray(), features.ToArray());
        }
        catch (Exception e) when (e is FormatException or System.Xml.XmlException or NullReferenceException or IndexOutOfRangeException or OverflowException)
        {
            throw new Embedding.ModelException(path, "not a usable OpenCV Haar cascade: " + e.Message, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Embedding.ModelException(path, e is FileNotFoundException ? "cascade file not found" : e.Message, e);
        }
    }

    private static float Float(string s) => float.Parse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture);

    private static double[] Numbers(string s)
        => s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Select(t => double.Parse(t, NumberStyles.Float,
            CultureInfo.InvariantCulture)).ToArray();
}
