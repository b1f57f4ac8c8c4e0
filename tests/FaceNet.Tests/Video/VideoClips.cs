using System.Diagnostics;
using FaceNet.Imaging;

namespace FaceNet.Tests.Video;

/// <summary>Test videos made here: committed face photos placed on a plain background, frame by frame, encoded by ffmpeg.</summary>
internal static class VideoClips
{
    public sealed record Actor(string Photo, double From, double To, int X, int Y, int Height, int DxPerSecond = 0);

    /// <summary>Writes an H.264 MP4 of <paramref name="seconds"/> at <paramref name="fps"/>; each actor's photo is shown from <c>From</c> to <c>To</c>.</summary>
    public static void Make(string path, int width, int height, int fps, double seconds, params Actor[] actors)
    {
        var photos = actors.Select(a => a.Photo).Distinct().ToDictionary(p => p, p =>
        {
            var img = ImageDecoder.Load(TestImages.DataPath("faces", p));
            return img;
        });
        var psi = new ProcessStartInfo("ffmpeg") { RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", $"{width}x{height}", "-r", $"{fps}", "-i", "pipe:0",
                     "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path])
            psi.ArgumentList.Add(a);
        using var ffmpeg = Process.Start(psi)!;
        var errors = ffmpeg.StandardError.ReadToEndAsync();
        var stdin = ffmpeg.StandardInput.BaseStream;
        var scaled = new Dictionary<(string, int), RgbImage>();
        var frame = new byte[width * height * 3];
        int count = (int)Math.Round(seconds * fps);
        for (int n = 0; n < count; n++)
        {
            double t = n / (double)fps;
            Array.Fill(frame, (byte)96);
            foreach (var a in actors.Where(a => t >= a.From && t < a.To))
            {
                if (!scaled.TryGetValue((a.Photo, a.Height), out var img))
                {
                    var src = photos[a.Photo];
                    scaled[(a.Photo, a.Height)] = img = src.Resize(src.Width * a.Height / src.Height, a.Height);
                }
                int x0 = a.X + (int)(a.DxPerSecond * (t - a.From));
                for (int y = 0; y < img.Height && a.Y + y < height; y++)
                {
                    int w = Math.Min(img.Width, width - x0);
                    if (w > 0) Buffer.BlockCopy(img.Pixels, y * img.Width * 3, frame, ((a.Y + y) * width + x0) * 3, w * 3);
                }
            }
            stdin.Write(frame);
        }
        stdin.Close();
        ffmpeg.WaitForExit();
        if (ffmpeg.ExitCode != 0) throw new InvalidOperationException("ffmpeg: " + errors.Result);
    }
}
