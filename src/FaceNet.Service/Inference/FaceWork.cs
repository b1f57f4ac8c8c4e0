using System.Diagnostics;
using System.Threading.Channels;
using System.Threading.RateLimiting;
using FaceNet.Detection;
using FaceNet.Embedding;
using FaceNet.Imaging;

namespace FaceNet.Service.Inference;

/// <summary>The service is at capacity: answered with 503 and Retry-After, never queued without bound.</summary>
public sealed class ServiceBusyException(string reason) : Exception(reason);

/// <summary>
/// A photo after the per-request stage: its size, its faces (largest first; at most the service's
/// <see cref="ServiceOptions.MaxFaces"/> of the <see cref="FacesFound"/>) and their aligned crops — not its pixels,
/// which are let go as soon as the crops are made.
/// </summary>
internal sealed record PreparedPhoto(int Width, int Height, IReadOnlyList<DetectedFace> Faces, IReadOnlyList<FaceCrops> Crops, int FacesFound)
{
    /// <summary>Each face's liveness verdict, in the order of <see cref="Faces"/>, when it was asked for.</summary>
    public IReadOnlyList<Liveness.LivenessResult>? Liveness { get; init; }

    /// <summary>Faces found but not kept: beyond the cap, the smallest.</summary>
    public int FacesDropped => Math.Max(0, FacesFound - Faces.Count);
}

/// <summary>
/// All inference of one service process, over one <see cref="FaceRecognizer"/>. A request is admitted
/// only while fewer than <see cref="ServiceOptions.QueueLimit"/> are in the process (else
/// <see cref="ServiceBusyException"/>), decodes and detects in one of <see cref="ServiceOptions.Workers"/>
/// slots, then hands its aligned faces to a single embedding loop that takes every face waiting (up to
/// the model's batch), waiting <see cref="ServiceOptions.BatchWait"/> for more when the batch is not full,
/// and runs them as one ONNX Runtime call: concurrent clients share batches.
/// </summary>
internal sealed class FaceWork : IAsyncDisposable
{
    private sealed record Item(FaceCrops Crops, TaskCompletionSource<float[]> Done, long Queued);

    private readonly FaceRecognizer _faces;
    private readonly ServiceOptions _options;
    private readonly ServiceMetrics _metrics;
    private readonly SemaphoreSlim _slots;
    // decoded pixels in memory at once, in megapixels: a request waits for its photo's share before decoding
    private readonly ConcurrencyLimiter _pixels;
    private readonly int _megapixels;
    private readonly Channel<Item> _queue = Channel.CreateUnbounded<Item>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private int _admitted;
    private int _waitingFaces;

    public FaceWork(FaceRecognizer faces, ServiceOptions options, ServiceMetrics metrics)
    {
        _faces = faces;
        _options = options;
        _metrics = metrics;
        _slots = new SemaphoreSlim(options.Workers);
        _megapixels = (int)Math.Clamp(options.MaxPixelsInFlight / 1_000_000, 1, int.MaxValue);
        _pixels = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = _megapixels, QueueLimit = int.MaxValue, QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        _loop = Task.Factory.StartNew(EmbedLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    public FaceRecognizer Recognizer => _faces;
    public ServiceMetrics Metrics => _metrics;

    /// <summary>Requests in the process now (being worked on or waiting).</summary>
    public int Admitted => Volatile.Read(ref _admitted);

    /// <summary>Admits a request or refuses it at once; dispose the ticket when the request is done.</summary>
    public IDisposable Admit()
    {
        if (Interlocked.Increment(ref _admitted) > _options.QueueLimit)
        {
            Interlocked.Decrement(ref _admitted);
            _metrics.Rejected("busy");
            throw new ServiceBusyException($"the service has {_options.QueueLimit} requests in progress; try again shortly");
        }
        _metrics.QueueDepth.Set(Admitted);
        return new Ticket(this);
    }

    private sealed class Ticket(FaceWork work) : IDisposable
    {
        private int _done;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) work._metrics.QueueDepth.Set(Interlocked.Decrement(ref work._admitted));
        }
    }

    /// <summary>Decode, detect and align in a worker slot: every face, or only the photo's subject.</summary>
    /// <param name="liveness">Also each face's liveness verdict (its networks run on all of the photo's faces at once, while its pixels are here).</param>
    public async Task<PreparedPhoto> PrepareAsync(byte[] bytes, string name, bool mainOnly, CancellationToken ct, Gallery.EnrollOptions? enrol = null,
        bool liveness = false)
    {
        // the photo's full size from its header (a decode never exceeds it), within the budget: a photo larger than all of it waits
        // for every other to finish; one the header does not tell is charged a megapixel (its decode fails or is small)
        int share = (int)Math.Clamp(((ImageDecoder.PixelsOf(bytes) ?? 1) + 999_999) / 1_000_000, 1, _megapixels);
        using var pixels = await _pixels.AcquireAsync(share, ct).ConfigureAwait(false);
        if (!pixels.IsAcquired) throw new ServiceBusyException("the service is shutting down");
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var t = Stopwatch.StartNew();
            var photo = _faces.Read(bytes, name);
            _metrics.Stage("decode", t);
            if (enrol is not null)
            {
                // the enrolment's faces: the subject, held to the quality floor
                var ((chosen, count), enrolCrops) = Gallery.FaceEnrollment.Faces(_faces, photo, enrol with { AllFaces = !mainOnly });
                _metrics.Stage("detect", t);
                return new PreparedPhoto(photo.Width, photo.Height, chosen, enrolCrops, count) { Liveness = Live(photo, chosen, liveness, t) };
            }
            var subject = _faces.DetectMain(photo);
            _metrics.Stage("detect", t);
            var faces = subject.Chosen(allFaces: !mainOnly);
            var crops = faces.Select(f => _faces.Align(photo, f)).ToList();
            _metrics.Stage("align", t);
            return new PreparedPhoto(photo.Width, photo.Height, faces, crops, subject.Found) { Liveness = Live(photo, faces, liveness, t) };
        }
        finally { _slots.Release(); }
    }

    // each face's verdict in one call of each network: batching across requests measured no faster on this CPU
    // (6.6-6.8 ms a face at batch 1, 8 and 32), so it runs here, where the photo's full-size pixels are
    private IReadOnlyList<Liveness.LivenessResult>? Live(Photo photo, IReadOnlyList<DetectedFace> faces, bool asked, Stopwatch t)
    {
        if (!asked) return null;
        var results = faces.Count == 0 ? [] : _faces.CheckLiveness(photo, faces);
        _metrics.Stage("liveness", t);
        return results;
    }

    /// <summary>Embeddings of aligned faces, batched with other requests' faces.</summary>
    public async Task<float[][]> EmbedAsync(IReadOnlyList<FaceCrops> crops, CancellationToken ct)
    {
        if (crops.Count == 0) return [];
        var items = crops.Select(c => new Item(c,
            new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously), Stopwatch.GetTimestamp())).ToList();
        Interlocked.Add(ref _waitingFaces, items.Count);
        foreach (var i in items)
            if (!_queue.Writer.TryWrite(i)) throw new ServiceBusyException("the service is shutting down");
        using var cancel = ct.Register(() => { foreach (var i in items) i.Done.TrySetCanceled(ct); });
        return await Task.WhenAll(items.Select(i => i.Done.Task)).ConfigureAwait(false);
    }

    private async Task EmbedLoop()
    {
        var reader = _queue.Reader;
        int max = Math.Max(1, _options.MaxBatch);
        var batch = new List<Item>(max);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            long deadline = Stopwatch.GetTimestamp() + (long)(_options.BatchWait.TotalSeconds * Stopwatch.Frequency);
            while (batch.Count < max)
            {
                if (reader.TryRead(out var item))
                {
                    Interlocked.Decrement(ref _waitingFaces);
                    if (!item.Done.Task.IsCompleted) batch.Add(item); // a cancelled request's faces are dropped
                    continue;
                }
                var left = deadline - Stopwatch.GetTimestamp();
                if (batch.Count == 0 || left <= 0) break;
                // not full yet: give concurrent requests a moment to join
                var more = reader.WaitToReadAsync().AsTask();
                if (await Task.WhenAny(more, Task.Delay(TimeSpan.FromSeconds((double)left / Stopwatch.Frequency))).ConfigureAwait(false) != more) break;
                if (!await more.ConfigureAwait(false)) break;
            }
            if (batch.Count == 0) continue;
            long start = Stopwatch.GetTimestamp();
            foreach (var i in batch) _metrics.StageSeconds.WithLabels("queue").Observe(Stopwatch.GetElapsedTime(i.Queued, start).TotalSeconds);
            try
            {
                var vectors = _faces.Model.Embed(batch.Select(i => i.Crops).ToList());
                for (int i = 0; i < batch.Count; i++) batch[i].Done.TrySetResult(vectors[i]);
                _metrics.FacesEmbedded.Inc(batch.Count);
            }
            catch (Exception e)
            {
                foreach (var i in batch) i.Done.TrySetException(e);
            }
            _metrics.BatchFaces.Observe(batch.Count);
            _metrics.StageSeconds.WithLabels("embed").Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    /// <summary>Takes no new faces, embeds the ones waiting, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
        _slots.Dispose();
        await _pixels.DisposeAsync().ConfigureAwait(false);
    }
}
