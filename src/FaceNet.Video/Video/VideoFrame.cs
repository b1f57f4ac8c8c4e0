using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FaceNet.Imaging;

namespace FaceNet.Video;

/// <summary>One decoded frame: its pixels (RGB, upright) and when it is shown.</summary>
public sealed record VideoFrame(long Index, double Time, RgbImage Image);
