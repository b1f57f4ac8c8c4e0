using FaceNet.Detection;
using FaceNet.Matching;
using FaceNet.Models;

namespace FaceNet.Tests.Embedding;

/// <summary>The pose-aware threshold rule (issue 27): a threshold per band of yaw difference, exact at the band edges.</summary>
public sealed class PoseThresholdTests
{
    private static readonly PoseThresholds Bands = new([new PoseBand(0, 0.9, 0.0018, 1000), new PoseBand(15, 0.95, 0.0018, 1000),
        new PoseBand(45, 1.05, 0.0018, 1000)], "test");

    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(14.9, 0)]
    [InlineData(15.0, 1)]
    [InlineData(44.9, 1)]
    [InlineData(45.0, 2)]
    [InlineData(180.0, 2)]
    [InlineData(double.NaN, 0)]
    public void Pose_band_edges_belong_to_the_band_they_start(double difference, int band)
    {
        Assert.Equal(band, Bands.BandOf(difference));
        Assert.Equal(Bands.Bands[band].Threshold, Bands.ThresholdFor(difference));
    }

    [Fact]
    public void Pose_thresholds_hang_on_the_models_threshold_and_a_given_one_replaces_them()
    {
        var info = new ModelInfo { Threshold = 0.8, PoseThresholds = Bands };
        Assert.Equal(0.8, info.ThresholdFor(null), 12);
        Assert.Equal(0.8, info.ThresholdFor(14.99), 12);
        Assert.Equal(0.85, info.ThresholdFor(15), 12);
        Assert.Equal(0.95, info.ThresholdFor(45), 12);
        Assert.Equal(0.8, (info with { PoseThresholds = null }).ThresholdFor(60), 12);
        // the yaw difference of two poses: a turn to either side counts alike (the default model flips every face)
        Assert.Equal(0, HeadPose.YawDifference(new HeadPose(75, 0, 0), new HeadPose(-75, 0, 0)), 9);
        Assert.Equal(60, HeadPose.YawDifference(new HeadPose(5, 0, 0), new HeadPose(-65, 0, 0)), 9);
    }

    [Fact]
    public void Pose_thresholds_round_trip_as_metadata()
    {
        var back = PoseThresholds.Parse(Bands.ToJson());
        Assert.Equal(Bands.Bands, back.Bands);
        var info = ModelInfo.FromMetadata(new ModelInfo { Threshold = 0.9, PoseThresholds = Bands }.ToMetadata().ToDictionary(), new ModelInfo());
        Assert.Equal(Bands.Bands, info.PoseThresholds!.Bands);
        Assert.Throws<FormatException>(() => PoseThresholds.Parse("""{"bands":[[5,0.9]]}"""));
        Assert.Throws<FormatException>(() => PoseThresholds.Parse("""{"bands":[[0,0.9],[0,1.0]]}"""));
    }
}
