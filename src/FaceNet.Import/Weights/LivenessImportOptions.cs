namespace FaceNet.Import.Weights;

/// <summary>Options of <see cref="LivenessImporter"/>; null members follow the file's name and the bundled pair's defaults.</summary>
public sealed record LivenessImportOptions
{
    /// <summary>The face box's growth for this network's patch (2.7, 4.0); default: from the file name (<c>2.7_80x80_MiniFASNetV2.pth</c>).</summary>
    public double? CropScale { get; init; }

    /// <summary>The square input the weights were trained at; default: from the file name, else 80.</summary>
    public int? InputSize { get; init; }

    /// <summary>The pair's threshold written into the network; default: the bundled pair's (<see cref="LivenessImporter.DefaultThreshold"/>).</summary>
    public double? Threshold { get; init; }

    /// <summary>Name written into the metadata; default: <c>minifasnet-v2</c> and so on, from the variant.</summary>
    public string? Name { get; init; }
}
