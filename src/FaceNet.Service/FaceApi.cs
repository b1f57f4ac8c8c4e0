using System.Security.Cryptography;
using FaceNet.Contracts;
using FaceNet.Detection;
using FaceNet.Gallery;
using FaceNet.Imaging;
using FaceNet.Liveness;
using FaceNet.Service.Inference;
using FaceNet.Service.Keys;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;

namespace FaceNet.Service;

// ----- what the cluster endpoint answers (the answers both front ends write are in FaceNet.Contracts) -----

/// <summary>
/// The endpoints' work: read the upload, check it, run it through <see cref="FaceWork"/> and the gallery,
/// and turn every failure a client can cause into a problem answer (4xx, or 503 when busy); only a
/// fault of ours is a 500.
/// </summary>
internal sealed class FaceApi(FaceWork work, Tenants? tenants, Cluster.Shards.ShardedGallery? sharded, KeyCheck keys, ServiceOptions options,
    Microsoft.Extensions.Logging.ILogger? log)
{
    private FaceRecognizer Faces => work.Recognizer;
    private string ModelName => Faces.Model.Info.Name;

    public Task<Results<ApiOk<VerifyResponse>, ProblemHttpResult>> Verify(HttpContext http, [AsParameters] VerifyQuery query)
        => Guard(http, Scope.Verify, AuditOperations.Verify, async ct =>
    {
        bool best = query.Pick?.ToLowerInvariant() switch
        {
            null or "" or "main" => false,
            "best" => true,
            _ => throw new ArgumentException($"pick is 'main' or 'best', not '{query.Pick}'"),
        };
        var live = LivenessAsked(query.Liveness, query.LivenessUnjudged);
        var form = await ReadForm(http);
        var (a, nameA) = File(form, "image1");
        var (b, nameB) = File(form, "image2");
        using var ticket = work.Admit();
        var pa = await work.PrepareAsync(a, nameA, mainOnly: !best, ct, liveness: live is not null);
        var pb = await work.PrepareAsync(b, nameB, mainOnly: !best, ct, liveness: live is not null);
        if (pa.Faces.Count == 0) throw new NoFaceException(nameA);
        if (pb.Faces.Count == 0) throw new NoFaceException(nameB);
        var vectors = await work.EmbedAsync([.. pa.Crops, .. pb.Crops], ct);
        // the main faces, or the closest pair of any faces (pick=best)
        var verdict = Faces.Closest(
            pa.Faces.Select((f, i) => new FaceEmbedding(i, f, vectors[i])).ToList(),
            pb.Faces.Select((f, j) => new FaceEmbedding(j, f, vectors[pa.Faces.Count + j])).ToList());
        if (live is { } unjudged)
        {
            // the two faces compared are the ones held to liveness
            PresentationAttackException.ThrowIfRefused(nameA, [pa.Liveness![verdict.A!.Index]], unjudged);
            PresentationAttackException.ThrowIfRefused(nameB, [pb.Liveness![verdict.B!.Index]], unjudged);
        }
        return new ApiOk<VerifyResponse>(VerifyResponse.Of(verdict with { FacesInA = FacesIn(pa), FacesInB = FacesIn(pb) },
            options.Recognizer.Threshold is null ? Faces.Model.Info.DescribeThreshold() : "set in the service's options", Faces.Model));
    });

    public Task<Results<ApiOk<LivenessResponse>, ProblemHttpResult>> Liveness(HttpContext http) => Guard(http, Scope.Verify, AuditOperations.Liveness, async ct =>
    {
        var (bytes, name) = File(await ReadForm(http), "image");
        using var ticket = work.Admit();
        var photo = await work.PrepareAsync(bytes, name, mainOnly: false, ct, liveness: true);
        return new ApiOk<LivenessResponse>(new LivenessResponse([.. photo.Liveness!.Select(LivenessJson.Of)], photo.Width, photo.Height, Faces.Liveness.Name,
            Faces.Liveness.DescribeThreshold()) { FacesDropped = photo.FacesDropped });
    });

    /// <summary>
    /// Whether the request asks its faces to be live (<c>?liveness=true</c>), and what to do then with a face that cannot be
    /// judged (<c>?liveness_unjudged=allow</c> lets it through; refused by default, as a door fails closed); null when not asked.
    /// </summary>
    private static UnjudgedFaces? LivenessAsked(string? liveness, string? unjudged)
    {
        if (!Flag(liveness, "liveness")) return null;
        return unjudged switch
        {
            null or "" or "refuse" => UnjudgedFaces.Refuse,
            "allow" => UnjudgedFaces.Allow,
            var other => throw new ArgumentException($"liveness_unjudged is 'refuse' or 'allow', not '{other}'"),
        };
    }

    public Task<Results<ApiOk<FacesResponse>, ProblemHttpResult>> Embed(HttpContext http) => FacesOf(http, embed: true);

    public Task<Results<ApiOk<FacesResponse>, ProblemHttpResult>> Detect(HttpContext http) => FacesOf(http, embed: false);

    private Task<Results<ApiOk<FacesResponse>, ProblemHttpResult>> FacesOf(HttpContext http, bool embed) => Guard(http, Scope.Verify, embed ? AuditOperations.Embed : AuditOperations.Detect, async ct =>
    {
        var (bytes, name) = File(await ReadForm(http), "image");
        using var ticket = work.Admit();
        var photo = await work.PrepareAsync(bytes, name, mainOnly: false, ct);
        var vectors = embed ? await work.EmbedAsync(photo.Crops, ct) : null;
        var faces = photo.Faces.Select((f, i) => FaceJson.Of(f, vectors?[i])).ToList();
        return new ApiOk<FacesResponse>(new FacesResponse(faces, photo.Width, photo.Height, ModelName, Faces.Model.Identity) { FacesDropped = photo.FacesDropped });
    });

    public Task<Results<ApiCreated<EnrollResponse>, ProblemHttpResult>> Enroll(HttpContext http, string name, [AsParameters] EnrollQuery query)
        => Guard(http, Scope.Enroll, AuditOperations.Enroll, async ct =>
    {
        name = RouteName(http, name, fromEnd: 1);
        var g = RequireGallery(http);
        GalleryStore.ValidateName(name);
        var enrol = new EnrollOptions { Force = Flag(query.Force, "force"), RefuseDuplicates = !Flag(query.AllowDuplicate, "allow_duplicate") };
        var live = LivenessAsked(query.Liveness, query.LivenessUnjudged);
        var (bytes, file) = File(await ReadForm(http), "image");
        using var ticket = work.Admit();
        var photo = await work.PrepareAsync(bytes, file, mainOnly: true, ct, enrol, liveness: live is not null);
        if (photo.Faces.Count == 0) throw new NoFaceException(file);
        if (live is { } unjudged) PresentationAttackException.ThrowIfRefused(file, photo.Liveness!, unjudged); // before anything is stored
        var vectors = await work.EmbedAsync(photo.Crops, ct);
        // committed before the answer: a 201 is a face that survives a crash
        // who the face looks like is an identification: told only to a key that may identify
        bool mayIdentify = KeyCheck.Allows(http, Scope.Identify);
        (IReadOnlyList<EnrolledFace> done, long subjectId) enrolled;
        try
        {
            enrolled = await g.EnrollFacesAsync(Faces, name, file, photo.Faces, photo.FacesFound, vectors, enrol, null,
                Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), ct);
        }
        catch (DuplicateFaceException) when (!mayIdentify) { throw new HiddenDuplicateException(file, name); }
        var (done, subjectId) = enrolled;
        var face = done[0].Face;
        http.Items[AuditSubject] = (name, subjectId);
        return new ApiCreated<EnrollResponse>($"/v1/subjects/{Uri.EscapeDataString(name)}", new EnrollResponse(name, done[0].FaceId, face.Box.ToArray(),
            FacesIn(photo), face.Quality?.Score, mayIdentify ? done[0].LooksLike?.Name : null));
    });

    /// <summary>A yes/no query option: present without a value, 1 or true is yes; absent, 0 or false no; anything else a 400.</summary>
    private static bool Flag(string? value, string name) => value?.ToLowerInvariant() switch
    {
        null or "0" or "false" => false,
        "" or "1" or "true" => true,
        _ => throw new ArgumentException($"{name} is true or false, not '{value}'"),
    };

    public Task<Results<ApiOk<SubjectsResponse>, ProblemHttpResult>> Subjects(HttpContext http) => Guard(http, Scope.Identify, AuditOperations.List, ct =>
    {
        var g = RequireGallery(http);
        var subjects = g.Store.Subjects();
        return Task.FromResult(new ApiOk<SubjectsResponse>(new SubjectsResponse(subjects.Select(s => new SubjectJson(s.Name, s.Faces, s.Created)).ToList(),
            subjects.Sum(s => s.Faces))));
    });

    public Task<Results<NoContent, ProblemHttpResult>> Remove(HttpContext http, string name) => Guard(http, Scope.Admin, AuditOperations.Delete, async ct =>
    {
        name = RouteName(http, name, fromEnd: 0);
        var g = RequireGallery(http);
        // the event names no one: the subject's name is erased with it, here as in its earlier events
        return await g.RemoveAsync(name, ct) ? TypedResults.NoContent() : throw new MissingException($"no subject named '{name}'");
    });

    public Task<Results<ApiOk<IdentifyResponse>, ProblemHttpResult>> Identify(HttpContext http, [AsParameters] IdentifyQuery query)
        => Guard(http, Scope.Identify, AuditOperations.Identify, async ct =>
    {
        var g = RequireGallery(http);
        int top = 3;
        if (query.Top is { } t && !(int.TryParse(t, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out top)
            && top is >= 1 and <= 100))
            throw new ArgumentException("top must be a whole number between 1 and 100");
        double fpir = IdentifyOptions.DefaultFpir;
        if (query.Fpir is { } f && !(double.TryParse(f, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture,
                out fpir) && fpir > 0 && fpir < 1))
            throw new ArgumentException("fpir must be a number between 0 and 1 (the share of strangers' searches that may get a name)");
        var live = LivenessAsked(query.Liveness, query.LivenessUnjudged);
        var (bytes, name) = File(await ReadForm(http), "image");
        using var ticket = work.Admit();
        var photo = await work.PrepareAsync(bytes, name, mainOnly: false, ct, liveness: live is not null);
        var vectors = await work.EmbedAsync(photo.Crops, ct);
        var search = new IdentifyOptions { Fpir = fpir, Threshold = options.Recognizer.Threshold, Top = top };
        var answers = new List<(DetectedFace Face, Identification Id)>();
        // each face searches with its own pose: candidates are held to the band of their pose difference, as verification does
        for (int i = 0; i < photo.Faces.Count; i++)
            answers.Add((photo.Faces[i], await g.IdentifyAsync(vectors[i], Faces.Model.Info, search with { Yaw = photo.Faces[i].Pose?.Yaw }, ct)));
        // every face the answer would name is held to liveness (a stranger's face names no one)
        if (live is { } unjudged)
            PresentationAttackException.ThrowIfRefused(name, answers.Select((a, i) => (a, i)).Where(x => x.a.Id.Known).Select(x => photo.Liveness![x.i]), unjudged);
        // one audit event per face: who was recognised (which keeps them from expiring), or that no one was
        http.Items[AuditFaces] = answers.Select(a => a.Id.Known ? (a.Id.Name, a.Id.Candidates[0].SubjectId) : ((string?)null, (long?)null)).ToList();
        var faces = answers.Select(a => IdentifiedFace.Of(a.Face, a.Id)).ToList();
        // the count the searches saw (a cluster is not asked again); a photo without faces asks for it
        int subjects = answers.Count > 0 ? answers[0].Id.Subjects : (await g.SizeAsync(ct)).Subjects;
        return new ApiOk<IdentifyResponse>(new IdentifyResponse(faces, photo.Width, photo.Height, subjects, ModelName, Faces.Model.Identity) { FacesDropped = photo.FacesDropped });
    });

    /// <summary>Tenants are the service's to manage: an admin key of the default tenant.</summary>
    private static void RequireServiceAdmin(HttpContext http)
    {
        if (TenantOf(http) != Tenants.Default) throw new TenantScopeException();
    }

    private sealed class TenantScopeException : Exception;

    public Task<Results<ApiOk<TenantsResponse>, ProblemHttpResult>> ListTenants(HttpContext http) => Guard(http, Scope.Admin, AuditOperations.TenantList, ct =>
    {
        RequireServiceAdmin(http);
        return Task.FromResult(new ApiOk<TenantsResponse>(new TenantsResponse(RequireTenants().List())));
    });

    public Task<Results<ApiCreated<TenantJson>, ProblemHttpResult>> CreateTenant(HttpContext http, string name) => Guard(http, Scope.Admin, AuditOperations.TenantCreate, ct =>
    {
        name = RouteName(http, name, fromEnd: 0);
        RequireServiceAdmin(http);
        RequireTenants().Make(name);
        http.Items[AuditSubject] = ("tenant " + name, 0L);
        return Task.FromResult(new ApiCreated<TenantJson>($"/v1/tenants/{Uri.EscapeDataString(name)}", new TenantJson(name)));
    });

    public Task<Results<NoContent, ProblemHttpResult>> RemoveTenant(HttpContext http, string name) => Guard(http, Scope.Admin, AuditOperations.TenantRemove, ct =>
    {
        name = RouteName(http, name, fromEnd: 0);
        RequireServiceAdmin(http);
        return Task.FromResult(RequireTenants().Remove(name) ? TypedResults.NoContent() : throw new MissingException($"no tenant named '{name}'"));
    });

    public Task<Results<ApiOk<ClusterResponse>, ProblemHttpResult>> Cluster(HttpContext http) => Guard(http, Scope.Admin, AuditOperations.ClusterStatus, async ct =>
    {
        RequireServiceAdmin(http);
        if (sharded is null || ClusterTenants is null) throw new MissingException("this service is not a cluster (start it with --cluster)");
        return new ApiOk<ClusterResponse>(ClusterResponse.Of(await FaceNet.Cluster.ClusterState.ReadAsync(sharded.Grains, ClusterTenants.Galleries()).WaitAsync(ct)));
    });

    /// <summary>A cluster front end's tenants (each a gallery in shards of its own).</summary>
    public ClusterTenants? ClusterTenants { get; init; }

    private ITenantAdmin RequireTenants() => (ITenantAdmin?)ClusterTenants ?? tenants ?? throw new NoGalleryException();

    // ----- plumbing -----

    /// <summary>Something the request names that is not there (a subject, a tenant, the cluster): a 404 problem.</summary>
    private sealed class MissingException(string detail) : Exception(detail);

    private static string TenantOf(HttpContext http) => http.Items["facenet.tenant"] as string ?? Tenants.Default;

    private const string LeaseItem = "facenet.lease";

    /// <summary>
    /// The gallery of the key's tenant (a key never reaches another tenant's), held for the rest of the request
    /// (<see cref="Guard"/> lets go of it): a tenant is not closed or erased under a request that holds it.
    /// </summary>
    private IGallery? GalleryOf(HttpContext http)
    {
        if (http.Items[LeaseItem] is Tenants.Lease held) return held.Gallery;
        if (http.Items[LeaseItem] is ClusterTenants.Lease heldShards) return heldShards.Gallery;
        if (ClusterTenants is not null)
        {
            if (ClusterTenants.Acquire(TenantOf(http)) is not { } sharding) return null;
            http.Items[LeaseItem] = sharding;
            return sharding.Gallery;
        }
        if (tenants?.Acquire(TenantOf(http)) is not { } lease) return null;
        http.Items[LeaseItem] = lease;
        return lease.Gallery;
    }

    private IGallery RequireGallery(HttpContext http)
        => GalleryOf(http) ?? ((tenants is null && ClusterTenants is null) || TenantOf(http) == Tenants.Default ? throw new NoGalleryException()
            : throw new TenantException(TenantOf(http), "no such tenant on this service", FaceNetErrorKind.NotFound));

    private sealed class NoGalleryException : Exception;

    private static int FacesIn(PreparedPhoto p) => p.FacesFound;

    /// <summary>
    /// A name from the path, decoded exactly once: Kestrel decodes a path but for <c>%2F</c>, so the route value of
    /// <c>AC%2FDC</c> is <c>AC%2FDC</c> and that of <c>a%252Fb</c> would be the same. The segment is taken from the
    /// request's raw target instead (<paramref name="fromEnd"/> segments before the last), so every name round-trips
    /// as a percent-encoded path segment, <c>/</c> included.
    /// </summary>
    private static string RouteName(HttpContext http, string routeValue, int fromEnd)
    {
        var raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw) || raw[0] != '/') return routeValue;
        int query = raw.IndexOfAny(['?', '#']);
        var segments = (query < 0 ? raw : raw[..query]).Split('/');
        int i = segments.Length - 1 - fromEnd;
        return i > 0 ? Uri.UnescapeDataString(segments[i]) : routeValue;
    }

    // The upload is read to its end whatever the time limit (Kestrel's minimum data rate guards against
    // slow senders): an answer given half-way through a body would reach the client as a reset connection.
    private async Task<IFormCollection> ReadForm(HttpContext http)
    {
        var ct = http.RequestAborted;
        var type = http.Request.ContentType;
        if (type is null || !type.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase)) throw new NotMultipartException(type);
        if (http.Request.ContentLength > options.MaxBodyBytes) throw new TooLargeException();
        if (http.Request.ContentLength is null)
        {
            // chunked: counted here against the limit (Kestrel's own is the larger drain bound, see Drain)
            RaiseBodyLimit(http);
            var body = new MemoryStream();
            var buffer = new byte[81920];
            int n;
            while ((n = await http.Request.Body.ReadAsync(buffer, ct)) > 0)
            {
                if (body.Length + n > options.MaxBodyBytes) throw new TooLargeException();
                body.Write(buffer, 0, n);
            }
            body.Position = 0;
            http.Request.Body = body;
        }
        return await http.Request.ReadFormAsync(ct);
    }

    private long DrainBound => RefusedBodies.Bound(options.MaxBodyBytes);

    private void RaiseBodyLimit(HttpContext http) => RefusedBodies.RaiseLimit(http, DrainBound);

    private static (byte[] Bytes, string Name) File(IFormCollection form, string field)
    {
        var f = form.Files[field] ?? throw new ArgumentException($"the multipart field '{field}' (an image file) is missing");
        var name = string.IsNullOrWhiteSpace(f.FileName) ? field : $"{field} ({Path.GetFileName(f.FileName)})";
        if (f.Length == 0) throw new ImageException(name, "empty file (0 bytes)");
        using var s = f.OpenReadStream();
        var bytes = new byte[f.Length];
        s.ReadExactly(bytes);
        return (bytes, name);
    }

    private sealed class NotMultipartException(string? type) : Exception
    {
        public string? Type { get; } = type;
    }

    private sealed class TooLargeException : Exception;

    /// <summary>A duplicate told to a key without the identify scope: that the face is someone else's, not whose.</summary>
    private sealed class HiddenDuplicateException(string file, string name)
        : Exception($"{file}: the face is already enrolled as another subject; not enrolled as '{name}'");

    /// <summary>The one place a kind of fault becomes an HTTP status; null for the kinds that are the server's own (a 500).</summary>
    private static ProblemHttpResult? Problem(FaceNetException e) => e.Kind switch
    {
        FaceNetErrorKind.NoFace => Problems.Status(400, "No face", e.Message),
        FaceNetErrorKind.PresentationAttack when e is PresentationAttackException a => Problems.Attack(a),
        FaceNetErrorKind.NotAnImage => Problems.Status(400, "Not a usable image", e.Message),
        FaceNetErrorKind.QualityTooLow => Problems.Status(422, "Face quality too low", e.Message + "; ?force=true enrols it anyway"),
        FaceNetErrorKind.Duplicate => Problems.Status(409, "Already enrolled as another subject", e.Message + "; ?allow_duplicate=true enrols it anyway"),
        FaceNetErrorKind.Conflict => Problems.Conflict(e.Reason),
        FaceNetErrorKind.NotFound => Problems.NotFound(e.Message),
        FaceNetErrorKind.Unavailable => Unavailable(e.Message),
        // a gallery the service cannot open as it is (no key for it, or a key for a plain one; damaged): the operator's to mend
        FaceNetErrorKind.Locked or FaceNetErrorKind.CorruptStore => Unavailable(e.Message),
        _ => null,
    };

    private static ProblemHttpResult Unavailable(string detail) => Problems.Status(503, "Unavailable", detail);


    /// <summary>Key, scope and rate first; then the work, with the request's time limit; client faults as problems.</summary>
    private async Task<Results<T, ProblemHttpResult>> Guard<T>(HttpContext http, Scope scope, string operation, Func<CancellationToken, Task<T>> handler)
        where T : IResult
    {
        try
        {
            var result = await Answer(http, scope, handler);
            int status = result.Result is IStatusCodeHttpResult { StatusCode: { } code } ? code : 200;
            // an answer other than success leaves the body unread, or half-read: read the rest first
            if (status >= 300) await RefusedBodies.DrainAsync(http, options.MaxBodyBytes, options.RequestTimeout);
            // refused before any work (no key, unknown or revoked key, over the rate): counted, and written a row per client and minute
            if (!KeyCheck.Counted(http)) AuditTo(http, operation, status);
            return result;
        }
        finally
        {
            if (http.Items[LeaseItem] is IDisposable lease) lease.Dispose();
        }
    }

    private void AuditTo(HttpContext http, string operation, int status)
    {
        IGallery? gallery;
        try { gallery = GalleryOf(http); }
        catch (FaceNetException) { return; } // the tenant cannot be opened: its answer says so; there is no trail to write to
        if (gallery is not null) Audit(gallery, http, operation, status);
    }

    private const string AuditSubject = "facenet.audit.subject", AuditFaces = "facenet.audit.faces", AuditOutcome = "facenet.audit.outcome";

    /// <summary>
    /// The request in the gallery's audit trail: the key (or that there was none), the operation, the subject,
    /// the status; an identification, one entry per face with whom it named. A trail that cannot be written
    /// is counted (facenet_requests_rejected_total{reason="audit_not_written"}), and does not change the answer (the work it records is done).
    /// </summary>
    private void Audit(IGallery gallery, HttpContext http, string operation, int status)
    {
        var actor = http.Items["facenet.key"] as string ?? "(no key)";
        var client = KeyCheck.ClientOf(http);
        var outcome = status < 300 ? "ok" : http.Items[AuditOutcome] as string ?? status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var events = new List<AuditEvent>();
        if (http.Items[AuditFaces] is List<(string? Name, long? Id)> faces && status < 300)
            events.AddRange(faces.Count == 0 ? [new AuditEvent(actor, operation, "no face") { Client = client }]
                : faces.Select(f => new AuditEvent(actor, operation, f.Name is null ? "unknown" : "known", f.Name, f.Id) { Matched = f.Name is not null, Client = client }));
        else if (http.Items[AuditSubject] is (string name, long id))
            events.Add(new AuditEvent(actor, operation, outcome, name, id) { Matched = status < 300, Client = client });
        else
            events.Add(new AuditEvent(actor, operation, outcome) { Client = client });
        try
        {
            gallery.Store.Audit(events);
        }
        catch (GalleryException e)
        {
            // the work it records is done: the answer stands, and the operator learns why the trail was not written
            work.Metrics.Rejected("audit_not_written");
            log?.LogWarning("audit trail not written: {Problem}", e.Message);
        }
    }

    private async Task<Results<T, ProblemHttpResult>> Answer<T>(HttpContext http, Scope scope, Func<CancellationToken, Task<T>> handler)
        where T : IResult
    {
        if (keys.Check(http, scope) is { } refused) return refused;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        limit.CancelAfter(options.RequestTimeout);
        try { return await handler(limit.Token); }
        catch (NotMultipartException e) { return Problems.NotMultipart(e.Type); }
        catch (TooLargeException) { return Problems.TooLarge(options.MaxBodyBytes); }
        catch (BadHttpRequestException e) when (e.StatusCode == 413) { return Problems.TooLarge(options.MaxBodyBytes); }
        catch (BadHttpRequestException e) { return Problems.Status(e.StatusCode, "Bad request", e.Message); }
        // the body's size is checked before the form is parsed (ReadForm): a limit the parser meets is one of the form's own
        // (fields, header lengths, boundary), so a malformed form, not a body too large
        catch (InvalidDataException e) { return Problems.BadRequest("the multipart body cannot be read: " + e.Message); }
        catch (HiddenDuplicateException e) { return Problems.Status(409, "Already enrolled as another subject", e.Message + "; ?allow_duplicate=true enrols it anyway"); }
        catch (PresentationAttackException e)
        {
            // refused as an attack: its own outcome in the audit trail, and counted
            http.Items[AuditOutcome] = "attack";
            work.Metrics.LivenessRefused.Inc();
            return Problems.Attack(e);
        }
        catch (FaceNetException e) when (Problem(e) is { } problem)
        {
            if (e.Kind == FaceNetErrorKind.Unavailable) http.Response.Headers.RetryAfter = "5";
            return problem;
        }
        catch (NoGalleryException) { return Problems.NotFound("this service has no gallery (start it with --gallery)"); }
        catch (MissingException e) { return Problems.NotFound(e.Message); }
        catch (TenantScopeException) { return Problems.Forbidden("tenants are managed with an admin key of the default tenant"); }
        catch (ArgumentException e) { return Problems.BadRequest(e.Message); }
        catch (Exception e) when (FaceNet.Cluster.Shards.ShardedGallery.IsUnreachable(e))
        {
            http.Response.Headers.RetryAfter = "1";
            return Unavailable("the cluster cannot answer now: " + e.Message);
        }
        catch (ServiceBusyException e)
        {
            http.Response.Headers.RetryAfter = "1";
            return Problems.Status(503, "Busy", e.Message);
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested && !http.RequestAborted.IsCancellationRequested)
        {
            work.Metrics.Rejected("timeout");
            http.Response.Headers.RetryAfter = "1";
            return Problems.Status(503, "Timed out", $"the request took longer than {options.RequestTimeout.TotalSeconds:0.#} s");
        }
    }
}
