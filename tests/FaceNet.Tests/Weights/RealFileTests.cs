using FaceNet.Weights;

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
}
