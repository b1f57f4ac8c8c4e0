using FaceNet.Embedding;

namespace FaceNet.Benchmarks;

/// <summary>Real embeddings of people with their photos (LFW's, embedded by the model under test): the planted searches and the spreads to copy.</summary>
public sealed record RealFaces(IReadOnlyList<string> People, IReadOnlyList<(int Person, float[] Vector)> Faces);

/// <summary>
/// Synthetic faces that a graph sees as faces: identities as centres around the real faces' mean direction, each
/// person's faces spread around their centre, with both spreads fitted to real embeddings (LFW): their directions
/// are the real ones (the covariance of people's mean faces for the centres, of each photo about its person's mean
/// for the faces), their sizes fitted to the mean distance between two photos of one person and between photos of two
/// people. Uniform random unit vectors (all ≈ √2 apart, nobody near anybody) are what HNSW graphs find hardest and no
/// gallery looks like; isotropic noise (every direction alike) is nearly as hard: real embeddings of the default
/// model spread over about 94 of their 256 directions (the covariance's participation ratio), isotropic noise over
/// all of them. Deterministic: subject i's faces are the same in every run.
/// </summary>
public sealed class FaceLikeFaces
{
    private readonly float[] _mean;
    private readonly int _dim;
    // lower-triangular Cholesky factors of the two covariances (row-major, dim × dim): L z has the covariance's shape
    private readonly double[] _betweenShape, _withinShape;

    /// <summary>How many directions the synthetic faces spread over (participation ratio of their covariance), measured as fitted.</summary>
    public double Directions { get; }

    /// <summary>Spread of the centres around the mean direction, and of a person's faces around the centre (norms of the added noise).</summary>
    public double Between { get; }
    public double Within { get; }

    /// <summary>What was measured on the real faces: mean same-person and different-person distances.</summary>
    public double RealWithin { get; }
    public double RealBetween { get; }

    /// <summary>The same means over the synthetic faces, once fitted.</summary>
    public double SyntheticWithin { get; }
    public double SyntheticBetween { get; }

    private FaceLikeFaces(float[] mean, double[] betweenShape, double[] withinShape, double between, double within, double realWithin, double realBetween)
        : this(mean, betweenShape, withinShape, between, within)
    {
        RealWithin = realWithin;
        RealBetween = realBetween;
        (SyntheticWithin, SyntheticBetween) = Measure(this, 2000);
        Directions = ParticipationRatio([.. Enumerable.Range(0, 3000).Select(i => Face(3_000_000_000L + i, 0))]);
    }

    /// <summary>(trace C)² / trace C² of the vectors' covariance: how many directions they spread over.</summary>
    public static double ParticipationRatio(IReadOnlyList<float[]> vectors)
    {
        int dim = vectors[0].Length;
        var c = Covariance(vectors.Select(v => v.Select(x => (double)x).ToArray()).ToList(), dim);
        double tr = 0, tr2 = 0;
        for (int i = 0; i < dim; i++)
        {
            tr += c[i * dim + i];
            for (int j = 0; j < dim; j++) tr2 += c[i * dim + j] * c[i * dim + j];
        }
        return tr * tr / tr2;
    }

    // the mean of vectors, summed in double
    private static double[] MeanOf(IReadOnlyList<float[]> vectors, int dim)
    {
        var m = new double[dim];
        foreach (var v in vectors)
            for (int i = 0; i < dim; i++) m[i] += v[i];
        for (int i = 0; i < dim; i++) m[i] /= vectors.Count;
        return m;
    }

    private static double[] Covariance(List<double[]> rows, int dim)
    {
        var mean = new double[dim];
        foreach (var v in rows)
            for (int i = 0; i < dim; i++) mean[i] += v[i] / rows.Count;
        var c = new double[dim * dim];
        foreach (var v in rows)
            for (int i = 0; i < dim; i++)
            {
                double a = v[i] - mean[i];
                for (int j = 0; j <= i; j++) c[i * dim + j] += a * (v[j] - mean[j]) / rows.Count;
            }
        for (int i = 0; i < dim; i++)
            for (int j = 0; j < i; j++) c[j * dim + i] = c[i * dim + j];
        return c;
    }

    // Cholesky factor of c + a small ridge (a covariance of fewer samples than directions is only semi-definite)
    private static double[] Cholesky(double[] c, int dim)
    {
        double ridge = 1e-6 * Enumerable.Range(0, dim).Sum(i => c[i * dim + i]) / dim;
        var l = new double[dim * dim];
        for (int i = 0; i < dim; i++)
            for (int j = 0; j <= i; j++)
            {
                double sum = c[i * dim + j] + (i == j ? ridge : 0);
                for (int k = 0; k < j; k++) sum -= l[i * dim + k] * l[j * dim + k];
                l[i * dim + j] = i == j ? Math.Sqrt(Math.Max(sum, 1e-30)) : sum / l[j * dim + j];
            }
        return l;
    }

    /// <summary>Fits the two spreads to <paramref name="real"/> (people with two photos or more).</summary>
    public static FaceLikeFaces Fit(RealFaces real)
    {
        int dim = real.Faces[0].Vector.Length;
        var mean = new float[dim];
        foreach (var (_, v) in real.Faces)
            for (int i = 0; i < dim; i++) mean[i] += v[i] / real.Faces.Count;
        var byPerson = real.Faces.GroupBy(f => f.Person).Where(g => g.Count() >= 2).Select(g => g.Select(f => f.Vector).ToArray()).ToArray();
        // the directions: people's mean faces, and each photo's offset from its person's mean
        var means = real.Faces.GroupBy(f => f.Person).Select(g => MeanOf([.. g.Select(f => f.Vector)], dim)).ToList();
        var offsets = byPerson.SelectMany(p =>
        {
            var m = MeanOf(p, dim); // once a person, not once a photo and value
            return p.Select(v => Enumerable.Range(0, dim).Select(i => v[i] - m[i]).ToArray());
        }).ToList();
        var betweenShape = Cholesky(Covariance(means, dim), dim);
        var withinShape = Cholesky(Covariance(offsets, dim), dim);
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
            bs = Bisect(v => Measure(new FaceLikeFaces(mean, betweenShape, withinShape, v, ws), 600).Between, between, 0.01, 20);
            ws = Bisect(v => Measure(new FaceLikeFaces(mean, betweenShape, withinShape, bs, v), 600).Within, within, 0.01, 20);
        }
        return new FaceLikeFaces(mean, betweenShape, withinShape, bs, ws, within, between);
    }

    // a bare instance for fitting (no measurement of its own)
    private FaceLikeFaces(float[] mean, double[] betweenShape, double[] withinShape, double between, double within)
    {
        _mean = mean;
        _dim = mean.Length;
        _betweenShape = betweenShape;
        _withinShape = withinShape;
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

    // L z for a standard normal z, scaled to the length norm: a step of that size in the covariance's directions
    private static float[] Gaussian(Random r, double[] shape, int dim, double norm)
    {
        var z = new double[dim];
        for (int i = 0; i < dim; i++) z[i] = Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
        var v = new float[dim];
        double s = 0;
        for (int i = 0; i < dim; i++)
        {
            double x = 0;
            for (int k = 0; k <= i; k++) x += shape[i * dim + k] * z[k];
            v[i] = (float)x;
            s += x * x;
        }
        float f = (float)(norm / Math.Sqrt(s));
        for (int i = 0; i < dim; i++) v[i] *= f;
        return v;
    }

    /// <summary>Subject <paramref name="subject"/>'s centre.</summary>
    public float[] Centre(long subject)
    {
        var r = new Random(Seed(subject, 17));
        var v = Gaussian(r, _betweenShape, _dim, Between);
        for (int i = 0; i < _dim; i++) v[i] += _mean[i];
        L2.NormalizeInPlace(v);
        return v;
    }

    /// <summary>Face <paramref name="k"/> of subject <paramref name="subject"/>.</summary>
    public float[] Face(long subject, int k)
    {
        var c = Centre(subject);
        var r = new Random(Seed(subject, 91 + k));
        var v = Gaussian(r, _withinShape, _dim, Within);
        for (int i = 0; i < _dim; i++) v[i] += c[i];
        L2.NormalizeInPlace(v);
        return v;
    }
}
