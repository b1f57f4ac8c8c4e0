namespace FaceNet.Gallery;

/// <summary>How a subject's faces make one distance: the nearest face, or the mean over the subject's faces.</summary>
public enum Aggregation { Min, Mean }
