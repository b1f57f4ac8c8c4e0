namespace FaceNet.Gallery;

/// <summary>What changed in a gallery, in the order the store committed it.</summary>
public enum ChangeKind { Enrolled, Removed, Renamed }
