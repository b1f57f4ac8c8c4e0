using FaceNet.Import.Weights;

namespace FaceNet.Tests.Weights;

public sealed class RealFileTests
{
    [Fact]
    public void Legacy_torch_file_and_its_safetensors_copy_hold_the_same_tensors()
    {
        var pt = TorchReader.Read(TestImages.DataPath("weights", "pnet.pt"));
        var st = SafetensorsReader.Read(TestImages.DataPath("weights", "pnet.safetensors"));
        Assert.Equal(st.Names.OrderBy(n => n), pt.Names.OrderBy(n => n));
        Assert.True(pt.TryGet("conv1.weight", out var conv1));
        Assert.Equal([10, 3, 3, 3], conv1.Shape);
        foreach (var name in st.Names)
        {
            st.TryGet(name, out var a);
            pt.TryGet(name, out var b);
            Assert.Equal(a.Shape, b.Shape);
            Assert.Equal(a.Data, b.Data);
        }
    }

    [Fact]
    public void Format_is_detected_from_the_bytes()
    {
        Assert.Equal(WeightFormat.Torch, WeightImporter.DetectFormat(TestImages.DataPath("weights", "pnet.pt")));
        Assert.Equal(WeightFormat.Safetensors, WeightImporter.DetectFormat(TestImages.DataPath("weights", "pnet.safetensors")));
    }

    [Fact]
    public void Weights_of_another_network_do_not_fit_inception_resnet()
    {
        var e = Assert.Throws<WeightsException>(() => WeightImporter.Import(TestImages.DataPath("weights", "pnet.safetensors")));
        Assert.Contains("missing tensor 'conv2d_1a.conv.weight'", e.Reason);
    }

    [Theory]
    [InlineData("pnet")]
    [InlineData("rnet")]
    [InlineData("onet")]
    public void The_bundled_mtcnn_networks_are_what_the_importer_builds_from_facenet_pytorchs_weights(string stage)
    {
        var rebuilt = WeightImporter.ImportMtcnn(TestImages.DataPath("weights", stage + ".safetensors"), stage);
        var bundled = File.ReadAllBytes(Path.Combine(FaceNet.Models.BundledModels.Folders().First(Directory.Exists), "mtcnn", stage + ".onnx"));
        Assert.Equal(bundled, rebuilt);
    }

    [Fact]
    public void The_bundled_faceapi_network_is_what_the_importer_builds_from_face_api_js_weights()
    {
        var (rebuilt, info) = WeightImporter.Import(TestImages.DataPath("weights", "faceapi", "face_recognition_model-weights_manifest.json"));
        var bundled = File.ReadAllBytes(FaceNet.Models.BundledModels.Find("faceapi-resnet")!);
        // the same graph and metadata but for the impostor tail, which was measured on LFW afterwards and added to the bundled copy
        var (a, b) = (FaceNet.Onnx.Proto.ModelProto.Parser.ParseFrom(bundled), FaceNet.Onnx.Proto.ModelProto.Parser.ParseFrom(rebuilt));
        Assert.True(a.Graph.Equals(b.Graph), "the bundled graph is not the rebuilt one");
        Dictionary<string, string> Meta(FaceNet.Onnx.Proto.ModelProto m) => m.MetadataProps.Where(p => p.Key != FaceNet.Models.ModelInfo.KeyImpostorTail).ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal(Meta(a), Meta(b));
        Assert.Contains(a.MetadataProps, p => p.Key == FaceNet.Models.ModelInfo.KeyImpostorTail);
        Assert.Equal("template:dlib", info.Alignment);
        Assert.True(bundled.Length < 7_000_000, "the uint8 weights stay uint8 in the ONNX file");
    }
}
