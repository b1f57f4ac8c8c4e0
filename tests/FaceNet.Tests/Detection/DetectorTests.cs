using System.Text.Json;
using FaceNet.Detection;
using FaceNet.Imaging;

namespace FaceNet.Tests.Detection;

public sealed class DetectorTests
{
    private static RgbImage Photo(string name) => ImageDecoder.Load(TestImages.DataPath("faces", name));

    [Theory]
    [InlineData("yunet+onet")]
    [InlineData("yunet")]
    [InlineData("mtcnn")]
    [InlineData("haar")]
    public void Each_detector_finds_the_labelled_faces(string name)
    {
        using var detector = Detectors.Create(Detectors.Parse(name));
        foreach (var single in new[] { "img1.jpg", "img2.jpg", "img3.jpg", "img8.jpg", "img9.jpg", "img16.jpg" })
        {
            var faces = detector.Detect(Photo(single));
            Assert.True(faces.Count >= 1, $"{name} found no face in {single}");
            // the largest face is the portrait's: a good part of the photo
            Assert.True(faces[0].Box.Width > 60, $"{name}: largest face in {single} is only {faces[0].Box.Width} px wide");
        }
        Assert.Equal(2, detector.Detect(Photo("couple.jpg")).Count(f => f.Box.Width > 100));
        Assert.True(detector.Detect(Photo("selfie-many-people.jpg")).Count >= 4);
    }

    [Fact]
    public void Onet_refinement_keeps_yunets_boxes_and_gives_mtcnns_landmarks()
    {
        using var yunet = Detectors.Create(DetectorKind.YuNet);
        using var refined = Detectors.Create(DetectorKind.YuNetOnet);
        using var mtcnn = Detectors.Create(DetectorKind.Mtcnn);
        double before = 0, after = 0;
        foreach (var name in new[] { "img1.jpg", "img2.jpg", "img3.jpg", "img8.jpg", "img9.jpg", "img16.jpg" })
        {
            var photo = Photo(name);
            var (y, r, m) = (yunet.Detect(photo)[0], refined.Detect(photo)[0], mtcnn.Detect(photo)[0]);
            Assert.Equal(y.Box, r.Box);
            double Gap(DetectedFace a) => a.Landmarks!.Zip(m.Landmarks!, (p, q) => Math.Sqrt((p.X - q.X) * (p.X - q.X) + (p.Y - q.Y) * (p.Y - q.Y))).Average() / m.Box.Width;
            before += Gap(y);
            after += Gap(r);
        }
        // measured: YuNet's landmarks are 3.0 % of the face width from MTCNN's on average, O-Net's on YuNet's boxes 1.1 %
        Assert.True(after < before / 2, $"landmarks from MTCNN's: YuNet {before / 6:P1}, refined {after / 6:P1}");
        Assert.Equal("yunet+onet", refined.Name);
    }

    [Theory]
    [InlineData(50)]
    [InlineData(40)]
    [InlineData(32)]
    [InlineData(26)]
    public void A_small_low_resolution_photo_is_looked_at_twice_the_size(int width)
    {
        // the portrait shrunk to a few dozen pixels: the face is below YuNet's smallest until the second look
        var photo = Photo("img1.jpg");
        var small = photo.Resize(width, photo.Height * width / photo.Width, ResizeMode.Area);
        using var yunet = Detectors.Create(DetectorKind.YuNet);
        var faces = yunet.Detect(small);
        Assert.Single(faces);
        Assert.InRange(faces[0].Box.Width, width * 0.25, width * 0.75);
    }

    [Fact]
    public void Haar_boxes_match_opencv()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestImages.DataPath("faces", "opencv_haar_boxes.json")));
        using var haar = Detectors.Create(DetectorKind.Haar);
        foreach (var image in doc.RootElement.GetProperty("images").EnumerateObject())
        {
            var expected = image.Value.EnumerateArray().Select(b => b.EnumerateArray().Select(v => v.GetInt32()).ToArray())
                .Select(b => new FaceBox(b[0], b[1], b[2], b[3])).ToList();
            var ours = haar.Detect(Photo(image.Name)).Select(f => f.Box).ToList();
            Assert.Equal(expected.Count, ours.Count);
            foreach (var e in expected)
            {
                double best = ours.Max(o => o.IoU(e));
                Assert.True(best >= 0.9, $"{image.Name}: OpenCV's box {e} best IoU {best:F3}");
            }
        }
    }

    [Fact]
    public void Landmarks_of_two_independent_detectors_agree_and_sit_on_the_face()
    {
        using var yunet = Detectors.Create(DetectorKind.YuNet);
        using var mtcnn = Detectors.Create(DetectorKind.Mtcnn);
        foreach (var name in new[] { "img1.jpg", "img2.jpg", "img3.jpg", "img8.jpg", "img16.jpg" })
        {
            var image = Photo(name);
            var a = yunet.Detect(image)[0];
            var b = mtcnn.Detect(image)[0];
            Assert.NotNull(a.Landmarks);
            Assert.NotNull(b.Landmarks);
            float size = Math.Max(a.Box.Width, a.Box.Height);
            for (int k = 0; k < 5; k++)
            {
                float d = MathF.Sqrt(MathF.Pow(a.Landmarks![k].X - b.Landmarks![k].X, 2) + MathF.Pow(a.Landmarks[k].Y - b.Landmarks[k].Y, 2));
                Assert.True(d < 0.1f * size, $"{name}: landmark {k} differs by {d:F1} px (face {size:F0} px)");
            }
            var lm = a.Landmarks!;
            Assert.True(lm[0].X < lm[1].X, "image-left eye first");
            Assert.True(lm[2].Y > Math.Max(lm[0].Y, lm[1].Y), "nose below the eyes");
            Assert.True(lm[3].Y > lm[2].Y && lm[4].Y > lm[2].Y, "mouth below the nose");
            foreach (var p in lm)
                Assert.True(p.X >= a.Box.X - 2 && p.X <= a.Box.Right + 2 && p.Y >= a.Box.Y - 2 && p.Y <= a.Box.Bottom + 2, $"{name}: landmark outside its box");
        }
    }

    [Theory]
    [InlineData("yunet")]
    [InlineData("mtcnn")]
    [InlineData("haar")]
    public void No_face_and_tiny_images_give_no_detection_without_crashing(string name)
    {
        using var detector = Detectors.Create(Detectors.Parse(name));
        var flat = new RgbImage(320, 240, Enumerable.Repeat((byte)128, 320 * 240 * 3).ToArray());
        Assert.Empty(detector.Detect(flat));
        var tiny = TestImages.SyntheticFace(20, 1);
        Assert.Empty(detector.Detect(tiny));
        Assert.Empty(detector.Detect(new RgbImage(1, 1, [0, 0, 0])));
    }

    [Fact]
    public void Haar_grouping_follows_opencv_group_rectangles()
    {
        // three similar boxes form a class (kept with minNeighbors 2), a lone box is dropped
        var rects = new List<HaarDetector.IntRect> { new(10, 10, 40, 40), new(12, 11, 40, 40), new(11, 12, 42, 42), new(200, 200, 30, 30) };
        var groups = HaarDetector.Group(rects, 2, 0.2);
        var g = Assert.Single(groups);
        Assert.Equal(3, g.Neighbors);
        Assert.Equal(new HaarDetector.IntRect(11, 11, 41, 41), g.Box);
    }
}
