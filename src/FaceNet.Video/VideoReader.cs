using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FaceNet.Imaging;

namespace FaceNet.Video;

/// <summary>
/// Frames of a video file, a stream URL (rtsp/http/…) or a camera device, decoded by the <c>ffmpeg</c>
/// program into raw RGB on a pipe, with each frame's presentation time read from FFmpeg's own log
/// (so variable frame rates are timed right). Frames wider than <see cref="MaxWidth"/> are scaled
/// down by FFmpeg. A stream that sends nothing for <c>timeout</c> ends with a <see cref="VideoException"/>,
/// never a hang.
/// </summary>
public sealed class VideoReader : IDisposable
{
    public const int MaxWidth = 1280;

    private readonly Process _ffmpeg;
    private readonly Stream _pixels;
    private readonly BlockingCollection<double> _times = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly TimeSpan _timeout;
    private readonly string _input;
    private long _index;

    public VideoInfo Info { get; }

    /// <summary>Frame size as decoded (the video's, or scaled to <see cref="MaxWidth"/>).</summary>
    public int Width { get; }
    public int Height { get; }

    /// <summary>The decoded frame's scale relative to the video (1 unless the video is wider than <see cref="MaxWidth"/>).</summary>
    public double Scale => (double)Width / Info.Width;

    private VideoReader(string input, VideoInfo info, TimeSpan timeout)
    {
        _input = input;
        Info = info;
        _timeout = timeout;
        Width = info.Width > MaxWidth ? MaxWidth : info.Width & ~1;
        Height = info.Width > MaxWidth ? (int)Math.Round(info.Height * (double)MaxWidth / info.Width / 2) * 2 : info.Height & ~1;
        var args = new List<string> { "-hide_banner", "-nostdin", "-loglevel", "info" };
        args.AddRange(InputArgs(input, timeout));
        args.AddRange(["-map", "0:v:0", "-vf", $"scale={Width}:{Height},showinfo", "-fps_mode", "passthrough", "-f", "rawvideo",
            "-pix_fmt", "rgb24", "pipe:1"]);
        _ffmpeg = Start("ffmpeg", args);
        _pixels = _ffmpeg.StandardOutput.BaseStream;
        // ffmpeg's log (a line per frame, with its time) read on a thread of its own: were it left to a busy
        // thread pool, ffmpeg would block on a full stderr pipe and the stream would seem to stall
        var log = _ffmpeg.StandardError;
        new Thread(() =>
        {
            try
            {
                string? line;
                do { line = log.ReadLine(); OnLog(line); } while (line is not null);
            }
            catch (Exception x) when (x is ObjectDisposedException or InvalidOperationException or IOException) { } // after Dispose
        }) { IsBackground = true, Name = "ffmpeg log" }.Start();
    }

    private void OnLog(string? line)
    {
        {
            if (line is null) { _times.CompleteAdding(); return; }
            int at = line.IndexOf(" pts_time:", StringComparison.Ordinal);
            if (line.StartsWith("[Parsed_showinfo", StringComparison.Ordinal) && at >= 0)
            {
                var rest = line.AsSpan(at + 10);
                int end = rest.IndexOf(' ');
                if (double.TryParse(end < 0 ? rest : rest[..end], NumberStyles.Float, CultureInfo.InvariantCulture, out var t)) _times.Add(t);
            }
            else if (!line.StartsWith("[Parsed_showinfo", StringComparison.Ordinal) && LooksLikeError(line))
            {
                // "[mov,mp4,… @ 0x55…] stream 0, …: partial file" → "stream 0, …: partial file"
                var text = line.Trim();
                if (text.StartsWith('[') && text.IndexOf("] ", StringComparison.Ordinal) is > 0 and var close
                    && text[..close].Contains(" @ 0x", StringComparison.Ordinal))
                    text = text[(close + 2)..];
                _errors.Enqueue(text);
                while (_errors.Count > 20) _errors.TryDequeue(out _);
            }
        }
    }

    /// <summary>Probes the input (ffprobe) and starts decoding it.</summary>
    public static VideoReader Open(string input, TimeSpan? timeout = null)
    {
        var t = timeout ?? TimeSpan.FromSeconds(10);
        if (!IsUrl(input) && !input.StartsWith("/dev/", StringComparison.Ordinal))
        {
            if (Directory.Exists(input)) throw new VideoException(input, "is a folder, not a video");
            if (!File.Exists(input)) throw new VideoException(input, "file not found");
        }
        var info = Probe(input, t);
        return new VideoReader(input, info, t);
    }

    /// <summary>The next frame, or null at the end of the video; <see cref="VideoException"/> when the video breaks off or stalls.</summary>
    public VideoFrame? Next()
    {
        var image = new byte[Width * Height * 3];
        // its own thread, not the pool's: a busy pool (other work of the process) must not pass for a stalled stream
        var read = Task.Factory.StartNew(() => _pixels.ReadAtLeast(image, image.Length, throwOnEndOfStream: false),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (!read.Wait(_timeout))
        {
            Kill();
            throw new VideoException(_input, $"no frame for {_timeout.TotalSeconds:0} s: the stream stopped");
        }
        int n = read.Result;
        if (n < image.Length)
        {
            _ffmpeg.WaitForExit(5000);
            _ffmpeg.WaitForExit(); // drains FFmpeg's log
            // FFmpeg ends a truncated file with exit code 0 and says so only in its log; concealed decoding
            // errors in a complete video are not a break
            var breaks = _errors.Where(BreaksOff).ToList();
            if (_ffmpeg.HasExited && _ffmpeg.ExitCode != 0 || breaks.Count > 0)
                throw new VideoException(_input, "the video breaks off: "
                    + (breaks.LastOrDefault() ?? _errors.LastOrDefault() ?? $"ffmpeg exited with code {_ffmpeg.ExitCode}"));
            return null;
        }
        // the frame's time from FFmpeg's log line for it; the frame rate's count if the line is late
        double time = _times.TryTake(out var t, 2000) ? t : _index / Math.Max(Info.Fps, 1e-3);
        return new VideoFrame(_index++, time, new RgbImage(Width, Height, image));
    }

    private static VideoInfo Probe(string input, TimeSpan timeout)
    {
        var args = new List<string> { "-v", "error" };
        args.AddRange(InputArgs(input, timeout));
        args.AddRange(["-select_streams", "v:0", "-show_entries", "stream=width,height,avg_frame_rate,r_frame_rate,duration:format=duration", "-of", "json"]);
        using var p = Start("ffprobe", args);
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout + TimeSpan.FromSeconds(5)))
        {
            try { p.Kill(true); } catch (InvalidOperationException) { }
            throw new VideoException(input, $"no answer within {timeout.TotalSeconds:0} s");
        }
        p.WaitForExit();
        string firstError = error.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).FirstOrDefault() ?? "";
        if (p.ExitCode != 0) throw new VideoException(input, "not a readable video" + (firstError.Length > 0 ? $" ({Shorten(firstError, input)})" : ""));
        try
        {
            using var doc = JsonDocument.Parse(output.Result);
            if (!doc.RootElement.TryGetProperty("streams", out var streams) || streams.GetArrayLength() == 0)
                throw new VideoException(input, "holds no video stream");
            var s = streams[0];
            int w = s.GetProperty("width").GetInt32(), h = s.GetProperty("height").GetInt32();
            if (w <= 0 || h <= 0 || (long)w * h > 40_000_000) throw new VideoException(input, $"frame size {w}x{h} is not supported");
            double fps = Rate(s, "avg_frame_rate") ?? Rate(s, "r_frame_rate") ?? 25;
            double? duration = Seconds(s) ?? (doc.RootElement.TryGetProperty("format", out var f) ? Seconds(f) : null);
            return new VideoInfo(w, h, fps, duration);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new VideoException(input, "not a readable video (ffprobe gave no size)");
        }

        static double? Rate(JsonElement s, string key)
        {
            if (!s.TryGetProperty(key, out var v) || v.GetString() is not { } r) return null;
            var parts = r.Split('/');
            if (parts.Length == 2 && double.TryParse(parts[0], CultureInfo.InvariantCulture, out var a)
                && double.TryParse(parts[1], CultureInfo.InvariantCulture, out var b) && a > 0 && b > 0) return a / b;
            return null;
        }
        static double? Seconds(JsonElement e) => e.TryGetProperty("duration", out var d) && double.TryParse(d.GetString(),
            CultureInfo.InvariantCulture, out var x) ? x : null;
    }

    private static IEnumerable<string> InputArgs(string input, TimeSpan timeout)
    {
        if (IsUrl(input))
        {
            // a network read that sends nothing for this long fails instead of waiting for ever
            yield return "-rw_timeout";
            yield return ((long)timeout.TotalMicroseconds).ToString(CultureInfo.InvariantCulture);
        }
        if (input.StartsWith("/dev/video", StringComparison.Ordinal))
        {
            yield return "-f";
            yield return "v4l2";
        }
        yield return "-i";
        yield return input;
    }

    private static bool IsUrl(string input) => input.Contains("://", StringComparison.Ordinal);

    private static bool BreaksOff(string line)
        => line.Contains("partial file", StringComparison.OrdinalIgnoreCase) || line.Contains("truncat", StringComparison.OrdinalIgnoreCase)
           || line.Contains("End of file", StringComparison.OrdinalIgnoreCase) || line.Contains("Connection", StringComparison.Ordinal)
           || line.Contains("timed out", StringComparison.OrdinalIgnoreCase) || line.Contains("Invalid data found", StringComparison.Ordinal)
           || line.Contains("I/O error", StringComparison.OrdinalIgnoreCase);

    private static bool LooksLikeError(string line)
        => line.Contains("error", StringComparison.OrdinalIgnoreCase) || line.Contains("Invalid", StringComparison.Ordinal)
           || line.Contains("corrupt", StringComparison.OrdinalIgnoreCase) || line.Contains("truncat", StringComparison.OrdinalIgnoreCase)
           || line.Contains("partial file", StringComparison.OrdinalIgnoreCase) || line.Contains("Connection", StringComparison.Ordinal);

    private static string Shorten(string line, string input) => line.Replace(input + ": ", "", StringComparison.Ordinal);

    private static Process Start(string program, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        try { return Process.Start(psi) ?? throw new VideoException(program, "could not be started"); }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new VideoException(program, "not found: video needs FFmpeg (Debian: apt-get install ffmpeg)");
        }
    }

    private void Kill()
    {
        try { if (!_ffmpeg.HasExited) _ffmpeg.Kill(true); } catch (InvalidOperationException) { }
    }

    public void Dispose()
    {
        Kill();
        _ffmpeg.WaitForExit(2000);
        _ffmpeg.Dispose();
        _times.Dispose();
    }
}
