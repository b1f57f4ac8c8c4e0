namespace FaceNet.Cli;

// The protection of a gallery's faces: facenet gallery new-key | encrypt | rekey | status.
public sealed partial class FaceNetCli
{
    private Command GalleryCommand() => new("gallery", "Encryption at rest of a gallery's faces: a new master key, encrypt a plain gallery in place, "
        + "change its keys")
        { NewKeyCommand(), EncryptCommand(), RekeyCommand() };

    private Command NewKeyCommand()
    {
        var output = Options.Text("--output", "Write the key to this file, readable by its owner only (0600), instead of stdout", "-o");
        var newKey = new Command("new-key", "A new master key (32 random bytes, base64): 'facenet gallery new-key -o master.key', and keep that file "
            + "safe") { output };
        newKey.SetAction(r => Guard(() =>
        {
            var key = MasterKey.Create().ToBase64();
            if (r.GetValue(output) is not { } file)
            {
                stdout.WriteLine(key);
                return Ok;
            }
            if (File.Exists(file)) throw new UsageException($"-o {file}: the file exists (a master key is never overwritten: the galleries under it would "
                + $"be lost)");
            AtomicFile.Write(file, key + "\n", ownerOnly: true);
            stderr.WriteLine($"wrote a new master key to {file} (0600)");
            return Ok;
        }));
        return newKey;
    }

    private Command EncryptCommand()
    {
        var gallery = GalleryOption();
        var encrypt = new Command("encrypt", "Encrypt a plain gallery in place under the master key (old or new after a crash, never half)") { gallery, _tenant, _masterKeyFile };
        encrypt.SetAction(r => Guard(() =>
        {
            var key = GalleryKey(r) ?? throw new UsageException($"encrypt: give the master key (--master-key-file, or the file "
                + $"{MasterKey.EnvironmentVariable} names)");
            stdout.WriteLine(GalleryProtection.Encrypt(GalleryAt(r, gallery), key, CliActor)
                ? $"encrypted {GalleryAt(r, gallery)} under master key {key.Id}"
                : $"{GalleryAt(r, gallery)} was encrypted already under master key {key.Id}; its files were cleaned again");
            return Ok;
        }));
        return encrypt;
    }

    private Command RekeyCommand()
    {
        var gallery = GalleryOption();
        var next = Options.Required("--new-master-key-file", "The master key to wrap the data key under from now on");
        var rotate = Options.Flag("--rotate-data-key", "Also a new data key, every face re-encrypted under it");
        var rekey = new Command("rekey", "Wrap the gallery's data key under a new master key (no face re-encrypted unless --rotate-data-key)")
            { gallery, _tenant, _masterKeyFile, next, rotate };
        rekey.SetAction(r => Guard(() =>
        {
            var current = GalleryKey(r) ?? throw new UsageException($"rekey: give the current master key (--master-key-file, or the file "
                + $"{MasterKey.EnvironmentVariable} names)");
            var nextKey = MasterKey.Load(r.GetValue(next)!);
            GalleryProtection.Rekey(GalleryAt(r, gallery), current, nextKey, r.GetValue(rotate), CliActor);
            stdout.WriteLine($"{GalleryAt(r, gallery)}: data key {(r.GetValue(rotate) ? "replaced, every face re-encrypted, " : "")}wrapped under master "
                + $"key {nextKey.Id}");
            return Ok;
        }));
        return rekey;
    }
}
