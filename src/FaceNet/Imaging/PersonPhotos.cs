namespace FaceNet.Imaging;

/// <summary>One person of a <see cref="PeopleFolder"/>: the sub-folder's name and its photos.</summary>
public sealed record PersonPhotos(string Name, IReadOnlyList<string> Files);
