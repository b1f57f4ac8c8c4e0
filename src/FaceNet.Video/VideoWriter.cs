using System.Diagnostics;
using System.Globalization;
using FaceNet.Detection;
using FaceNet.Imaging;
using SkiaSharp;

namespace FaceNet.Video;

/// <summary>
/// Writes frames with their faces' boxes and labels drawn into a video file, encoded by the <c>ffmpeg</c>
/// program (H.264 for .mp4/.mkv/.mov, its default for other extensions).
/// </summary>
public sealed class VideoWriter : IDisposable
{
    private readonly Process _ffmpeg;
    private readonly Stream _stdin;
    private readonly Task<string> _errors;
    private readonly string _path;
    private readonly SKBitmap _bitmap;
    private readonly byte[] _rgba;
    private bool _closed;

    // DejaVu Sans, carried inside this assembly (Bitstream Vera licence)
    private static readonly Lazy<SKTypeface> Font = new(() =>
        SKTypeface.FromStream(typeof(VideoWriter).Assembly.GetManifestResourceStream("FaceNet.Video.DejaVuSans.ttf")!) ?? SKTypeface.Default);

    public VideoWriter(string path, int width, int height, double fps)
    {
        _path = path;
        var psi = new ProcessStartInfo("ffmpeg") { RedirectStandardInput = true, RedirectStandardError = true,
            RedirectStandardOutput = true, UseShellExecute = false };
        var ext = Path.GetExtension(path).ToLowerInvariant();
        var codec = ext is ".mp4" or ".mkv" or ".mov" ? new[] { "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p" } : [];
        foreach (var a in new[] { "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgba", "-s", $"{width}x{height}",
                     "-r", fps.ToString("0.###", CultureInfo.InvariantCulture), "-i", "pipe:0" }.Concat(codec).Append(path))
            psi.ArgumentList.Add(a);
        try { _ffmpeg = Process.Start(psi) ?? throw new VideoException("ffmpeg", "could not be started"); }
        catch (System.ComponentModel.Win32Exception) { throw new VideoException("ffmpeg", "not found: video needs FFmpeg (Debian: apt-get install ffmpeg)"); }
        _errors = _ffmpeg.StandardError.ReadToEndAsync();
        _stdin = _ffmpeg.StandardInput.BaseStream;
        _bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        _rgba = new byte[width * height * 4];
    }

    /// <summary>One frame, each face's box drawn with its label above it.</summary>
    public void Write(RgbImage frame, IEnumerable<(FaceBox Box, string Label, bool Known)> faces)
    {
        var px = frame.Pixels;
        for (int i = 0, j = 0; i < px.Length; i += 3, j += 4)
        {
            _rgba[j] = px[i]; _rgba[j + 1] = px[i + 1]; _rgba[j + 2] = px[i + 2]; _rgba[j + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(_rgba, 0, _bitmap.GetPixels(), _rgba.Length);
        using (var canvas = new SKCanvas(_bitmap))
        {
            float stroke = Math.Max(2, frame.Width / 400f);
            using var font = new SKFont(Font.Value, Math.Max(14, frame.Width / 60f));
            foreach (var (box, label, known) in faces)
            {
                var colour = known ? SKColors.Lime : SKColors.Orange;
                using var pen = new SKPaint { Color = colour, Style = SKPaintStyle.Stroke, StrokeWidth = stroke, IsAntialias = true };
                canvas.DrawRect(box.X, box.Y, box.Width, box.Height, pen);
                using var fill = new SKPaint { Color = colour, IsAntialias = true };
                canvas.DrawText(label, box.X, Math.Max(font.Size, box.Y - stroke * 2), SKTextAlign.Left, font, fill);
            }
        }
        System.Runtime.InteropServices.Marshal.Copy(_bitmap.GetPixels(), _rgba, 0, _rgba.Length);
        try { _stdin.Write(_rgba); }
        catch (IOException) { throw new VideoException(_path, "ffmpeg stopped writing: " + Finish()); }
    }

    private string Finish()
    {
        if (_closed) return "";
        _closed = true;
        try { _stdin.Close(); } catch (IOException) { }
        _ffmpeg.WaitForExit();
        return _errors.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? $"exit code {_ffmpeg.ExitCode}";
    }

    /// <summary>Finishes the file; <see cref="VideoException"/> if FFmpeg could not write it.</summary>
    public void Close()
    {
        var error = Finish();
        if (_ffmpeg.ExitCode != 0) throw new VideoException(_path, "could not be written: " + error);
    }

    public void Dispose()
    {
        if (!_closed) Finish();
        _ffmpeg.Dispose();
        _bitmap.Dispose();
    }
}
