namespace FaceNet.Cli;

// Gallery commands: enroll, identify, subjects, cluster.
public sealed partial class FaceNetCli
{
    private static Option<string> GalleryOption() => Options.Required("--gallery", "The gallery: an SQLite file, or a PostgreSQL connection string "
        + "(\"Host=…;Database=…\")", "-g");

    /// <summary>The master key file of encrypted galleries: one option shared by every command that opens a gallery.</summary>
    private readonly Option<string?> _masterKeyFile = new("--master-key-file")
    {
        Description = $"The master key of an encrypted gallery (default: the file ${MasterKey.EnvironmentVariable} names); a new gallery given one is "
            + $"encrypted",
    };

    /// <summary>A tenant's gallery under a service's location: one option shared like the key's.</summary>
    private readonly Option<string?> _tenant = new("--tenant")
    {
        Description = "A tenant's gallery where -g is a service's folder (DIR/TENANT.db) or database (its schema facenet_TENANT)",
    };

    /// <summary>Where the gallery is: -g as given, or the tenant's gallery under it.</summary>
    private string GalleryAt(ParseResult r, Option<string> gallery)
    {
        var location = r.GetValue(gallery)!;
        if (r.GetValue(_tenant) is not { } tenant) return location;
        if (!GalleryTenants.IsName(tenant)) throw new UsageException($"--tenant: '{tenant}' is not a tenant name ({GalleryTenants.NameRule})");
        if (!GalleryTenants.Hosts(location)) throw new UsageException($"--tenant: -g {location} is one gallery file, not a folder of tenants' galleries");
        return GalleryTenants.LocationOf(location, tenant);
    }

    /// <summary>The master key given, or null.</summary>
    private MasterKey? GalleryKey(ParseResult r) => MasterKey.From(r.GetValue(_masterKeyFile));

    /// <summary>
    /// The model for a gallery command: the one asked for, else the bundled model the gallery is bound to
    /// (so a gallery enrolled with an earlier default keeps working), else the default.
    /// </summary>
    private string? GalleryModelName(string galleryPath, string? asked, MasterKey? key)
    {
        if (asked is not null || !GalleryStores.Exists(galleryPath)) return asked;
        string bound;
        try
        {
            using var store = GalleryStores.Open(galleryPath, null, readOnly: true, key);
            bound = store.Model.Id;
        }
        catch (GalleryException) { return null; } // opened again below, where the problem is reported
        var name = GalleryModel.NameOf(bound);
        if (name == BundledModels.DefaultEmbedder || BundledModels.Find(name) is null) return null;
        stderr.WriteLine($"note: {galleryPath} is bound to the bundled model '{name}'; using it (the default is '{BundledModels.DefaultEmbedder}'; "
            + $"'facenet migrate' moves a gallery to another model)");
        return name;
    }

    private Command EnrollCommand()
    {
        var gallery = GalleryOption(); var model = ModelOption(); var detector = DetectorOption(); var aligned = AlignedOption();
        var allFaces = AllFacesOption(); var flip = FlipOption(); var threads = ThreadsOption(); var json = JsonOption();
        var name = Options.Text("--name", "Who the images show", "-n");
        var fromFolders = Options.Text("--from-folders", "A folder with one sub-folder per person (its name is the person's): enrols everyone");
        var force = Options.Flag("--force", "Enrol faces below the quality floor too");
        var minQuality = Options.Real("--min-quality",
            $"Quality floor: faces below it are refused with the reason (default {FaceQuality.DefaultFloor}; 0 takes every face)", 0, 1);
        var images = Options.Images("images", "Image files or folders of them (with --name)", ArgumentArity.ZeroOrMore);
        var cmd = new Command("enroll", "Add people's faces to a gallery: each image's subject (--all-faces: every face), each committed before it is reported")
            { gallery, _tenant, _masterKeyFile, name, fromFolders, model, detector, aligned, allFaces, force, minQuality, flip, threads, json, images };
        var live = new LivenessOptions();
        live.AddTo(cmd);
        cmd.SetAction(r => Guard(() =>
        {
            var people = PeopleToEnroll(r.GetValue(fromFolders), r.GetValue(name), r.GetValue(images));
            var galleryPath = GalleryAt(r, gallery);
            using var pipeline = Pipeline(live.Apply(r, new FaceRecognizerOptions { Model = GalleryModelName(galleryPath, r.GetValue(model),
                GalleryKey(r)), Detector = r.GetValue(detector), Threads = r.GetValue(threads), Flip = r.GetValue(flip) }, r.GetValue(aligned)), r.GetValue(aligned));
            var options = new EnrollOptions
            {
                AllFaces = r.GetValue(allFaces), Aligned = r.GetValue(aligned), Force = r.GetValue(force),
                QualityFloor = r.GetValue(minQuality) ?? FaceQuality.DefaultFloor,
            };
            var failures = new List<string>();
            PeopleEnrollment.Run(pipeline, galleryPath, people, options, done =>
            {
                if (done.Error is { } e) failures.Add(done.File);
                ReportEnrollment(done, options, r.GetValue(json));
            }, GalleryKey(r));
            if (failures.Count > 0) stderr.WriteLine($"error: {failures.Count} image(s) not enrolled: "
                + $"{string.Join(", ", failures.Take(20))}{(failures.Count > 20 ? ", …" : "")}");
            return failures.Count > 0 ? InputError : Ok;
        }));
        return cmd;
    }

    /// <summary>Who is in which images, checked before any model is loaded.</summary>
    private static IReadOnlyList<PersonPhotos> PeopleToEnroll(string? fromFolders, string? name, string[]? images)
    {
        if (fromFolders is not null)
        {
            if (name is not null || images is { Length: > 0 }) throw new UsageException("--from-folders takes the names from the folders: give no --name "
                + "and no images");
            return PeopleEnrollment.FromFolder(fromFolders);
        }
        var who = name ?? throw new UsageException("enroll: give --name NAME with images, or --from-folders FOLDER");
        GalleryStore.ValidateName(who);
        return [new PersonPhotos(who, ImageFiles(images ?? [], "enroll"))];
    }

    private void ReportEnrollment(PhotoEnrollment done, EnrollOptions options, bool json)
    {
        if (done.Error is { } e)
        {
            ReportInput(e, e is LowQualityFaceException ? "--force enrols it anyway" : null);
            if (json) JsonFailure(done.File, e);
            return;
        }
        var faces = done.Faces;
        if (faces[0].FacesInPhoto > 1 && !options.AllFaces) NoteMainFace(done.File, faces[0].FacesInPhoto, "enrolling its subject (--all-faces enrols each)");
        foreach (var d in faces.Where(d => d.LooksLike is not null))
            stderr.WriteLine($"warning: {done.File}: the face is already in the gallery as '{d.LooksLike!.Name}' (distance {F(d.LooksLike.Distance)} "
                + $"within {F(d.LooksLike.Threshold)}); enrolled as '{done.Name}' all the same ('facenet subjects duplicates' lists such pairs)");
        stdout.WriteLine(json
            ? JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["file"] = done.File, ["name"] = done.Name, ["faces"] = faces.Count, ["ids"] = faces.Select(d => d.FaceId).ToArray(),
                ["quality"] = faces.Select(d => d.Face.Quality?.Score).ToArray(),
                ["duplicate_of"] = faces.Select(d => d.LooksLike?.Name).FirstOrDefault(n => n is not null),
            }, Json)
            : $"enrolled {done.File} ({faces.Count} face{(faces.Count == 1 ? "" : "s")}) as {done.Name}");
        stdout.Flush();
    }

    private Command IdentifyCommand()
    {
        var gallery = GalleryOption(); var model = ModelOption(); var detector = DetectorOption(); var aligned = AlignedOption();
        var flip = FlipOption(); var threads = ThreadsOption(); var json = JsonOption();
        var top = new Option<int>("--top", "-k") { Description = "Candidates listed per face", DefaultValueFactory = _ => 3 }.Within(1, 1000);
        var threshold = ThresholdOption("Open-set threshold (default: chosen for --fpir from the gallery's size and the model's impostor tail)");
        var fpir = Options.Real("--fpir", $"Target false-positive identification rate: the share of searches by people not enrolled that may get a name "
            + $"(default {IdentifyOptions.DefaultFpir})", 0, 1, minOpen: true, maxOpen: true);
        var aggregate = Options.Setting("--aggregate", "A subject's distance: min (nearest face) or mean (of its faces)", "min", "min", "mean");
        var images = ImagesArgument();
        var cmd = new Command("identify", "Who is it? Every face of each image against the gallery; unknown above the threshold")
            { gallery, _tenant, _masterKeyFile, model, detector, aligned, flip, top, threshold, fpir, aggregate, threads, json, images };
        var live = new LivenessOptions();
        live.AddTo(cmd);
        cmd.SetAction(r => Guard(() =>
        {
            var files = ImageFiles(r.GetValue(images)!, "identify");
            if (r.GetValue(threshold) is not null && r.GetValue(fpir) is not null) throw new UsageException("give --threshold or --fpir, not both");
            using var pipeline = Pipeline(live.Apply(r, new FaceRecognizerOptions { Model = GalleryModelName(GalleryAt(r, gallery), r.GetValue(model),
                GalleryKey(r)), Detector = r.GetValue(detector), Threads = r.GetValue(threads), Flip = r.GetValue(flip) }, r.GetValue(aligned)), r.GetValue(aligned));
            using var gal = FaceGallery.Open(GalleryAt(r, gallery), GalleryModel.For(pipeline.Model), readOnly: true, key: GalleryKey(r));
            var info = pipeline.Model.Info;
            var agg = r.GetValue(aggregate) == "mean" ? Aggregation.Mean : Aggregation.Min;
            var options = new IdentifyOptions { Fpir = r.GetValue(fpir) ?? IdentifyOptions.DefaultFpir,
                Threshold = r.GetValue(threshold), Top = r.GetValue(top), Aggregation = agg };
            if (info.ImpostorTail is null && r.GetValue(threshold) is null)
                stderr.WriteLine($"note: the model '{info.Name}' has no impostor tail: identify holds faces against its 1:1 threshold, and strangers get a "
                    + $"name more often as the gallery grows ('facenet calibrate --root PEOPLE -o MODEL' measures one)");
            bool failed = EachImage(files, r.GetValue(json), file =>
            {
                foreach (var f in pipeline.EmbedFaces(file, Which(r.GetValue(aligned), allFaces: true)).Faces)
                    ReportIdentified(file, f, gal.Identify(f.Vector, info, options with { Yaw = r.GetValue(aligned) ? null : f.Face.Pose?.Yaw }), info,
                        gal.SubjectCount, r.GetValue(aligned), r.GetValue(json));
                return true;
            });
            return failed ? InputError : Ok;
        }));
        return cmd;
    }

    private void ReportIdentified(string file, FaceEmbedding f, Identification id, ModelInfo info, int subjects, bool aligned, bool json)
    {
        var rule = id.Rule!;
        var box = aligned ? null : f.Face.Box.ToArray();
        if (json) // the service's answer for a face, with the file, and the rates of a 1:1 threshold
            stdout.WriteLine(JsonLine(IdentifiedFace.Of(f.Face, id), ("file", file), ("face", f.Index), ("box", box),
                ("far", rule.Rule == ThresholdRule.Fpir ? rule.ComparisonFar : rule.Rule == ThresholdRule.Verification ? info.ThresholdFar : null),
                ("frr", rule.Rule == ThresholdRule.Verification ? info.ThresholdFrr : null), ("subjects", subjects), ("model", info.Name)));
        else
            stdout.WriteLine($"{file} face {f.Index}{(box is null ? "" : $" [{string.Join(",", box)}]")}: " +
                (id.Known ? $"{id.Name} (distance {F(id.Distance)})" : $"unknown (nearest {(id.Candidates.Count > 0 ? $"{id.Candidates[0].Name} at {F(id.Distance)}" : "none")})") +
                $"  threshold {F(id.Threshold)} "
                    + $"({rule.Rule switch { ThresholdRule.Given => "given with --threshold", ThresholdRule.Verification => ThresholdSource(info, null) + "; no impostor tail", _ => rule.Describe() }})");
    }

    private Command SubjectsCommand()
    {
        var gallery = GalleryOption(); var json = JsonOption();
        var action = new Argument<string[]>("action")
        {
            Arity = ArgumentArity.ZeroOrMore,
            Description = "list (default) | remove NAME | rename OLD NEW | duplicates | purge (with --older-than)",
        };
        var olderThan = new Option<string?>("--older-than")
        {
            Description = "purge: erase the subjects neither enrolled nor matched for this long (90d, 12h, 30m)",
        };
        var model = ModelOption();
        var fpir = Options.Real("--fpir", $"duplicates: the target FPIR of the search that finds them (default {IdentifyOptions.DefaultFpir})", 0, 1, minOpen: true, maxOpen: true);
        var cmd = new Command("subjects", "List, remove (erase) or rename the people of a gallery; list the pairs of subjects that are probably one "
            + "person") { gallery, _tenant, _masterKeyFile, model, fpir, olderThan, json, action };
        cmd.SetAction(r => Guard(() =>
        {
            var a = r.GetValue(action) ?? [];
            var location = GalleryAt(r, gallery);
            IGalleryStore Store(bool readOnly = false) => GalleryStores.Open(location, null, readOnly, GalleryKey(r));
            return (a.Length == 0 ? "list" : a[0], a.Length) switch
            {
                ("list", <= 1) => ListSubjects(Store(readOnly: true), r.GetValue(json)),
                ("remove", 2) => ChangeSubject(Store(), s => s.Remove(a[1], CliActor), $"removed {a[1]} (its faces erased)", r.GetValue(gallery)!, a[1]),
                ("rename", 3) => ChangeSubject(Store(), s => s.Rename(a[1], a[2], CliActor), $"renamed {a[1]} to {a[2]}", r.GetValue(gallery)!, a[1]),
                ("duplicates", 1) => ListDuplicates(location, GalleryModelName(location, r.GetValue(model), GalleryKey(r)), GalleryKey(r),
                    r.GetValue(fpir) ?? IdentifyOptions.DefaultFpir, r.GetValue(json)),
                ("purge", 1) => Purge(r.GetValue(olderThan) is { } text ? ParsePeriod("--older-than", text)
                    : throw new UsageException("subjects purge: give --older-than (90d, 12h, 30m)"), Store),
                _ => throw new UsageException("subjects: expected list, remove NAME, rename OLD NEW, duplicates or purge --older-than PERIOD"),
            };
        }));
        return cmd;
    }

    private int ListSubjects(IGalleryStore opened, bool json)
    {
        using var store = opened;
        var subjects = store.Subjects();
        if (json)
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["model"] = store.Model.Id,
                ["subjects"] = subjects.Select(s => new Dictionary<string, object?> { ["name"] = s.Name,
                    ["faces"] = s.Faces, ["created"] = s.Created.ToString("O") }).ToArray(),
            }, Json));
        else
        {
            stdout.WriteLine($"{subjects.Count} subject(s), {subjects.Sum(s => s.Faces)} face(s); model {store.Model}");
            foreach (var s in subjects) stdout.WriteLine($"  {s.Name}  ({s.Faces} face{(s.Faces == 1 ? "" : "s")}, since {s.Created:yyyy-MM-dd})");
        }
        return Ok;
    }

    /// <summary>A change of one subject that the library audits; a subject that is not there is an input error.</summary>
    private int ChangeSubject(IGalleryStore opened, Func<IGalleryStore, bool> change, string done, string gallery, string name)
    {
        using var store = opened;
        if (!change(store)) { stderr.WriteLine($"error: {gallery}: no subject named '{name}'"); return InputError; }
        stdout.WriteLine(done);
        return Ok;
    }

    private int ListDuplicates(string location, string? modelName, MasterKey? key, double fpir, bool json)
    {
        using var faceModel = FaceModel.Load(modelName);
        using var gal = FaceGallery.Open(location, GalleryModel.For(faceModel), readOnly: true, key: key);
        var pairs = gal.Duplicates(faceModel.Info, new IdentifyOptions { Fpir = fpir });
        if (json)
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["subjects"] = gal.SubjectCount,
                ["pairs"] = pairs.Select(p => new Dictionary<string, object> { ["a"] = p.Subject, ["b"] = p.Other,
                    ["distance"] = Math.Round(p.Distance, 6), ["threshold"] = Math.Round(p.Threshold, 6) }).ToArray(),
            }, Json));
        else
        {
            stdout.WriteLine($"{pairs.Count} pair(s) of the {gal.SubjectCount} subjects are probably one person (a face of one is identified as the other):");
            foreach (var p in pairs) stdout.WriteLine($"  {p.Subject}  {p.Other}  distance {F(p.Distance)} (threshold {F(p.Threshold)})");
        }
        return Ok;
    }

    private int Purge(TimeSpan period, Func<bool, IGalleryStore> open)
    {
        using var store = open(false);
        int erased = Retention.Purge(store, period, CliActor);
        stdout.WriteLine($"erased {erased} subject(s) neither enrolled nor matched for {period.TotalDays:0.##} days");
        return Ok;
    }

    /// <summary>Who the audit trail says acted, for the command line: the user running it.</summary>
    private static string CliActor => "cli:" + Environment.UserName;

    private static TimeSpan ParsePeriod(string option, string text)
    {
        try { return Retention.ParsePeriod(text); }
        catch (FormatException e) { throw new UsageException($"{option}: {e.Message}"); }
    }

    private Command AuditCommand()
    {
        var gallery = GalleryOption(); var json = JsonOption();
        var after = new Option<long>("--after") { Description = "Only the entries after this sequence number (to export in parts)",
            DefaultValueFactory = _ => 0 };
        var cmd = new Command("audit", "The gallery's audit trail: when, which key, which operation, which subject, the outcome (--json: one JSON line each)")
            { gallery, _tenant, _masterKeyFile, after, json };
        cmd.SetAction(r => Guard(() =>
        {
            using var store = GalleryStores.Open(GalleryAt(r, gallery), null, readOnly: true, GalleryKey(r));
            long from = r.GetValue(after);
            while (true)
            {
                var page = store.AuditTrail(from, 10_000);
                foreach (var e in page)
                    stdout.WriteLine(r.GetValue(json)
                        ? JsonSerializer.Serialize(new Dictionary<string, object?>
                        {
                            ["seq"] = e.Sequence, ["at"] = e.At.ToString("O", CultureInfo.InvariantCulture), ["actor"] = e.Actor, ["operation"] = e.Operation,
                            ["subject"] = e.Subject, ["outcome"] = e.Outcome, ["client"] = e.Client, ["count"] = e.Count,
                        }, Json)
                        : $"{e.Sequence,6}  {e.At:yyyy-MM-dd HH:mm:ss}Z  {e.Actor}  {e.Operation}  {e.Subject ?? "-"}  {e.Outcome}"
                            + (e.Client is null ? "" : $"  from {e.Client}") + (e.Count > 1 ? $"  ({e.Count} requests)" : ""));
                if (page.Count < 10_000) break;
                from = page[^1].Sequence;
            }
            return Ok;
        }));
        return cmd;
    }

    private Command MigrateCommand()
    {
        var gallery = GalleryOption(); var model = ModelOption(); var detector = DetectorOption(); var threads = ThreadsOption(); var json = JsonOption();
        var to = Options.Required("--to", "The new gallery (created; must not exist yet)");
        var cmd = new Command("migrate", "Re-embed a gallery's faces with another model (default: the default model) into a new gallery, from the photos "
            + "they were enrolled from")
            { gallery, _tenant, _masterKeyFile, to, model, detector, threads, json };
        cmd.SetAction(r => Guard(() =>
        {
            var target = r.GetValue(to)!;
            if (GalleryStores.Exists(target)) throw new UsageException($"--to: {target} already exists; migration writes a new gallery");
            using var old = GalleryStores.Open(GalleryAt(r, gallery), null, readOnly: true, GalleryKey(r));
            using var pipeline = Pipeline(new FaceRecognizerOptions { Model = r.GetValue(model), Detector = r.GetValue(detector),
                Threads = r.GetValue(threads) });
            int moved;
            IReadOnlyList<GalleryMigration.Failure> failures;
            using (var store = GalleryStores.Open(target, GalleryModel.For(pipeline.Model), key: GalleryKey(r)))
                (moved, failures) = new GalleryMigration(old, pipeline).MigrateTo(store, f =>
                    stderr.WriteLine($"error: {f.Face.SourceFile ?? $"face {f.Face.Id}"}: {f.Problem} (face {f.Face.Id} of {f.Subject} not migrated)"));
            if (r.GetValue(json))
                stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["from"] = old.Model.Id,
                    ["to"] = pipeline.Model.Identity, ["faces"] = moved, ["failed"] = failures.Count, ["gallery"] = target }, Json));
            else
                stdout.WriteLine($"migrated {moved} of {moved + failures.Count} face(s) from {old.Model.Id} to {pipeline.Model.Identity}: {target}");
            return failures.Count > 0 ? InputError : Ok;
        }));
        return cmd;
    }

    /// <summary><c>facenet group FOLDER</c>: a photo folder's faces grouped into people.</summary>
    private Command GroupCommand() => PhotoGroupingCommand("group", "Group the faces of a photo folder into people (DBSCAN or Chinese Whispers)");

    /// <summary>
    /// <c>facenet cluster status|silo</c>: the service's cluster of silos. <c>facenet cluster FOLDER</c> is the grouping's
    /// earlier name, kept working with a note.
    /// </summary>
    private Command ClusterCommand()
    {
        var cmd = PhotoGroupingCommand("cluster", "The service's cluster of silos ('cluster status', 'cluster silo'); 'cluster FOLDER' is the old name of "
            + "'group FOLDER'",
            renamed: true);
        cmd.Subcommands.Add(ClusterStatusCommand());
        cmd.Subcommands.Add(ClusterSiloCommand());
        return cmd;
    }

    private Command PhotoGroupingCommand(string name, string description, bool renamed = false)
    {
        var model = ModelOption(); var detector = DetectorOption(); var flip = FlipOption(); var threads = ThreadsOption(); var json = JsonOption();
        var dir = new Argument<string>("folder") { Description = "A folder of photos (searched recursively)" };
        var method = Options.Setting("--method", "dbscan or whispers (Chinese Whispers)", "dbscan", "dbscan", "whispers");
        var eps = Options.Real("--eps", "Neighbour distance (default: the model's threshold)", 0, 4, minOpen: true);
        var minSamples = Options.Int("--min-samples", "DBSCAN: faces needed to form a cluster", 2, 1);
        var copyTo = Options.Text("--copy-to", "Write each cluster's face crops into OUT/cluster_N/ (noise into OUT/noise/)");
        var cmd = new Command(name, description) { dir, model, detector, flip, method, eps, minSamples, copyTo, threads, json };
        cmd.SetAction(r => Guard(() =>
        {
            if (renamed) stderr.WriteLine("note: 'facenet cluster FOLDER' is now 'facenet group FOLDER' ('facenet cluster' is the service's cluster of silos)");
            using var pipeline = Pipeline(new FaceRecognizerOptions { Model = r.GetValue(model), Detector = r.GetValue(detector),
                Threads = r.GetValue(threads), Flip = r.GetValue(flip) });
            var groups = PhotoClustering.Group(pipeline, r.GetValue(dir)!, new PhotoClusterOptions
            {
                Method = r.GetValue(method) == "whispers" ? ClusterMethod.ChineseWhispers : ClusterMethod.Dbscan, Eps = r.GetValue(eps),
                MinSamples = r.GetValue(minSamples), KeepCrops = r.GetValue(copyTo) is not null,
            });
            foreach (var e in groups.Unreadable) ReportInput(e);
            foreach (var file in groups.WithoutFace) stderr.WriteLine($"warning: {file}: no face found");
            if (r.GetValue(copyTo) is { } outDir) CopyGroups(groups, outDir);
            ReportGroups(groups, r.GetValue(method)!, r.GetValue(json));
            return groups.Unreadable.Count > 0 ? InputError : Ok;
        }));
        return cmd;
    }

    /// <summary>Each cluster's face crops into OUT/cluster_N/, the unclustered ones into OUT/noise/.</summary>
    private static void CopyGroups(PhotoClusters groups, string outDir)
    {
        OutputFolder(outDir);
        var folders = groups.Clusters.Select((c, n) => (Name: $"cluster_{n}", Faces: c)).Append((Name: "noise", Faces: groups.Noise)).Where(g => g.Faces.Count > 0);
        foreach (var (folder, members) in folders)
        {
            var d = OutputFolder(Path.Combine(outDir, folder));
            foreach (var i in members) Annotate.Save(groups.Faces[i].Crop!, [], Path.Combine(d, $"{Path.GetFileNameWithoutExtension(groups.Faces[i].File)}_{i}.png"));
        }
    }

    private void ReportGroups(PhotoClusters groups, string method, bool json)
    {
        var faces = groups.Faces;
        object Face(int i) => new Dictionary<string, object> { ["file"] = faces[i].File, ["box"] = faces[i].Face.Box.ToArray() };
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["method"] = method, ["eps"] = groups.Eps, ["faces"] = faces.Count,
                ["clusters"] = groups.Clusters.Select((c, n) => new Dictionary<string, object> { ["id"] = n, ["faces"] = c.Select(Face).ToArray() }).ToArray(),
                ["noise"] = groups.Noise.Select(Face).ToArray(),
            }, Json));
            return;
        }
        stdout.WriteLine($"{faces.Count} face(s) in {groups.Photos} image(s): {groups.Clusters.Count} cluster(s), {groups.Noise.Count} unclustered "
            + $"({method}, eps {F(groups.Eps)})");
        for (int c = 0; c < groups.Clusters.Count; c++)
            stdout.WriteLine($"  cluster {c}: {groups.Clusters[c].Count} face(s): "
                + $"{string.Join(", ", groups.Clusters[c].Select(i => Path.GetFileName(faces[i].File)).Distinct().Take(8))}{(groups.Clusters[c].Count > 8 ? ", …" : "")}");
    }
}
