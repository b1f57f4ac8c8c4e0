using FaceNet.Embedding;

namespace FaceNet.Benchmarks;

/// <summary>Real embeddings of people with their photos (LFW's, embedded by the model under test): the planted searches and the spreads to copy.</summary>
public sealed record RealFaces(IReadOnlyList<string> People, IReadOnlyList<(int Person, float[] Vector)> Faces);

/// <summary>
/// Synthetic faces that a graph sees as faces: identities as centres around the real faces' mean direction, each
/// person's faces spread around their centre, with both spreads fitted to real embeddings (LFW): the mean distance
/// between two photos of one person, and between photos of two people. Uniform random unit vectors (all ≈ √2
/// apart, nobody near anybody) are what HNSW graphs find hardest and no gallery looks like. The noise is isotropic,
/// where real embeddings use fewer directions: a harder case for a graph than real faces, not an easier one.
/// Deterministic: subject i's faces are the same in every run.
/// </summary>
public sealed class FaceLikeFaces
{
    private readonly float[] _mean;
    private readonly int _dim;

    /// <summary>Spread of the centres around the mean direction, and of a person's faces around the centre (norms of the added noise).</summary>
    public double Between { get; }
    public double Within { get; }

    /// <summary>What was measured on the real faces: mean same-person and different-person distances.</summary>
    public double RealWithin { get; }
    public double RealBetween { get; }

    /// <summary>The same means over the synthetic faces, once fitted.</summary>
    public double SyntheticWithin { get; }
    public double SyntheticBetween { get; }

    private FaceLikeFaces(float[] mean, double between, double within, double realWithin, double realBetween)
    {
        _mean = mean;
        _dim = mean.Length;
        Between = between;
        Within = within;
        RealWithin = realWithin;
        RealBetween = realBetween;
        (SyntheticWithin, SyntheticBetween) = Measure(this, 2000);
    }

    /// <summary>Fits the two spreads to <paramref name="real"/> (people with two photos or more).</summary>
    public static FaceLikeFaces Fit(RealFaces real)
    {
        int dim = real.Faces[0].Vector.Length;
        var mean = new float[dim];
        foreach (var (_, v) in real.Faces)
            for (int i = 0; i < dim; i++) mean[i] += v[i] / real.Faces.Count;
        var byPerson = real.Faces.GroupBy(f => f.Person).Where(g => g.Count() >= 2).Select(g => g.Select(f => f.Vector).ToArray()).ToArray();
        var r = new Random(3);
        double within = 0, between = 0;
        const int Pairs = 4000;
        for (int i = 0; i < Pairs; i++)
        {
            var p = byPerson[r.Next(byPerson.Length)];
            int a = r.Next(p.Length), b = (a + 1 + r.Next(p.Length - 1)) % p.Length;
            within += Matching.Distance.Euclidean(p[a], p[b]) / Pairs;
            var x = real.Faces[r.Next(real.Faces.Count)];
            var y = real.Faces[r.Next(real.Faces.Count)];
            if (x.Person == y.Person) { i--; continue; }
            between += Matching.Distance.Euclidean(x.Vector, y.Vector) / Pairs;
        }
        // two rounds of bisection, one spread at a time (within mostly moves the same-person distance, between the other)
        double bs = 1, ws = 0.5;
        for (int round = 0; round < 3; round++)
        {
            bs = Bisect(v => Measure(new FaceLikeFaces(mean, v, ws), 600).Between, between, 0.01, 20);
            ws = Bisect(v => Measure(new FaceLikeFaces(mean, bs, v), 600).Within, within, 0.01, 20);
        }
        return new FaceLikeFaces(mean, bs, ws, within, between);
    }

    // a bare instance for fitting (no measurement of its own)
    private FaceLikeFaces(float[] mean, double between, double within)
    {
        _mean = mean;
        _dim = mean.Length;
        Between = between;
        Within = within;
    }

    private static double Bisect(Func<double, double> f, double target, double lo, double hi)
    {
        for (int i = 0; i < 30; i++)
        {
            double mid = Math.Sqrt(lo * hi);
            if (f(mid) < target) lo = mid; else hi = mid;
        }
        return Math.Sqrt(lo * hi);
    }

    private static (double Within, double Between) Measure(FaceLikeFaces g, int n)
    {
        double within = 0, between = 0;
        for (int i = 0; i < n; i++)
        {
            within += Matching.Distance.Euclidean(g.Face(1_000_000_000L + i, 0), g.Face(1_000_000_000L + i, 1)) / n;
            between += Matching.Distance.Euclidean(g.Face(1_000_000_000L + i, 0), g.Face(2_000_000_000L + i, 0)) / n;
        }
        return (within, between);
    }

    // the same in every process (HashCode is seeded per process)
    private static int Seed(long a, int b) => unchecked((int)(((ulong)a * 0x9E3779B97F4A7C15UL) >> 33) ^ (b * 0x5bd1e995));

    private static float[] Gaussian(Random r, int dim, double norm)
    {
        var v = new float[dim];
        double s = 0;
        for (int i = 0; i < dim; i++)
        {
            v[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));
            s += v[i] * v[i];
        }
        float k = (float)(norm / Math.Sqrt(s));
        for (int i = 0; i < dim; i++) v[i] *= k;
        return v;
    }

    /// <summary>Subject <paramref name="subject"/>'s centre.</summary>
    public float[] Centre(long subject)
    {
        var r = new Random(Seed(subject, 17));
        var v = Gaussian(r, _dim, Between);
        for (int i = 0; i < _dim; i++) v[i] += _mean[i];
        L2.NormalizeInPlace(v);
        return v;
    }

    /// <summary>Face <paramref name="k"/> of subject <paramref name="subject"/>.</summary>
    public float[] Face(long subject, int k)
    {
        var c = Centre(subject);
        var r = new Random(Seed(subject, 91 + k));
        var v = Gaussian(r, _dim, Within);
        for (int i = 0; i < _dim; i++) v[i] += c[i];
        L2.NormalizeInPlace(v);
        return v;
    }
}
