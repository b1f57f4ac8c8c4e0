namespace FaceNet.Gallery;

/// <summary>
/// A folder's faces grouped into people: <see cref="Clusters"/> and <see cref="Noise"/> index <see cref="Faces"/>
/// (largest group first); <see cref="Unreadable"/> are the photos that could not be read, <see cref="WithoutFace"/>
/// the ones in which no face was found.
/// </summary>
public sealed record PhotoClusters(IReadOnlyList<ClusteredFace> Faces, IReadOnlyList<IReadOnlyList<int>> Clusters, IReadOnlyList<int> Noise,
    int Photos, double Eps, IReadOnlyList<FaceNetException> Unreadable, IReadOnlyList<string> WithoutFace);
