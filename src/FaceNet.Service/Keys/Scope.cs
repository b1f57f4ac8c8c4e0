namespace FaceNet.Service.Keys;

/// <summary>What a key may do. <see cref="Admin"/> may do everything.</summary>
public enum Scope { Verify, Identify, Enroll, Admin }
