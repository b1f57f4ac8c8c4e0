using FaceNet.Onnx;
namespace FaceNet.Import.Onnx;

/// <summary>What <see cref="ModelQuantizer.Quantize"/> wrote.</summary>
public sealed record QuantizedModel(string Output, IReadOnlyList<string> Files, int CalibrationFaces, string Summary);
