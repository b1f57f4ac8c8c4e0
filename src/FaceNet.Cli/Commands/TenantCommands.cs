namespace FaceNet.Cli;

// Tenants of a service's galleries: tenants add | list | remove, as the admin API makes them.
public sealed partial class FaceNetCli
{
    private Command TenantsCommand() => new("tenants", "The tenants of a service's galleries (a folder -g DIR/ or a PostgreSQL database): add, list, remove")
        { TenantsAddCommand(), TenantsListCommand(), TenantsRemoveCommand() };

    private static Option<string> TenantsLocation() => Options.Required("--gallery",
        "The service's galleries: a folder (DIR/, one TENANT.db each) or a PostgreSQL connection string (a schema each)", "-g");

    private static Argument<string> TenantArgument() => new("tenant") { Description = $"The tenant's name ({GalleryTenants.NameRule})" };

    private Command TenantsAddCommand()
    {
        var gallery = TenantsLocation(); var name = TenantArgument(); var model = ModelOption();
        var add = new Command("add", "Make a tenant's gallery: empty, bound to the model (default: the default tenant's), encrypted under the master key "
            + "when given")
            { name, gallery, model, _masterKeyFile };
        add.SetAction(r => Guard(() =>
        {
            var (location, tenant, key) = (r.GetValue(gallery)!, TenantName(r.GetValue(name)!), GalleryKey(r));
            if (!GalleryTenants.Hosts(location)) throw new UsageException($"-g {location}: tenants live in a folder (DIR/) or a PostgreSQL database, not "
                + $"one gallery file");
            var defaultGallery = GalleryTenants.LocationOf(location, GalleryTenants.Default);
            using var faceModel = FaceModel.Load(GalleryModelName(defaultGallery, r.GetValue(model), key));
            using (GalleryTenants.Create(location, tenant, GalleryModel.For(faceModel), key)) { }
            AuditDefault(location, key, AuditOperations.TenantCreate, "tenant " + tenant);
            stdout.WriteLine($"tenant {tenant} added: {Redacted(GalleryTenants.LocationOf(location, tenant))} (model {faceModel.Info.Name}"
                + (key is null ? ")" : $", encrypted under master key {key.Id})"));
            return Ok;
        }));
        return add;
    }

    private Command TenantsListCommand()
    {
        var gallery = TenantsLocation(); var json = JsonOption();
        var list = new Command("list", "Every tenant there, default first") { gallery, json };
        list.SetAction(r => Guard(() =>
        {
            var tenants = GalleryTenants.List(r.GetValue(gallery)!);
            if (r.GetValue(json)) stdout.WriteLine(JsonSerializer.Serialize(new { tenants }, Json));
            else foreach (var t in tenants) stdout.WriteLine(t);
            return Ok;
        }));
        return list;
    }

    private Command TenantsRemoveCommand()
    {
        var gallery = TenantsLocation(); var name = TenantArgument();
        var remove = new Command("remove", "Erase a tenant's gallery (its files or its schema) with every face in it; "
            + "a running service should be asked instead (DELETE /v1/tenants/TENANT), since it holds the gallery open") { name, gallery, _masterKeyFile };
        remove.SetAction(r => Guard(() =>
        {
            var (location, tenant) = (r.GetValue(gallery)!, TenantName(r.GetValue(name)!));
            if (tenant == GalleryTenants.Default) throw new UsageException("the default tenant cannot be removed (remove its subjects instead)");
            if (!GalleryTenants.Drop(location, tenant))
            {
                stderr.WriteLine($"error: {Redacted(location)}: no tenant named '{tenant}'");
                return InputError;
            }
            AuditDefault(location, GalleryKey(r), AuditOperations.TenantRemove, "tenant " + tenant);
            stdout.WriteLine($"tenant {tenant} removed");
            return Ok;
        }));
        return remove;
    }

    private static string TenantName(string name)
        => GalleryTenants.IsName(name) ? name : throw new UsageException($"'{name}' is not a tenant name ({GalleryTenants.NameRule})");

    private static string Redacted(string location) => GalleryStores.IsPostgres(location) ? PostgresGalleryStore.Redact(location) : location;

    // the service records tenants made and removed in the default tenant's trail; so does the command line, when there is one
    private static void AuditDefault(string location, MasterKey? key, string operation, string subject)
    {
        var at = GalleryTenants.LocationOf(location, GalleryTenants.Default);
        if (!GalleryStores.Exists(at)) return;
        using var store = GalleryStores.Open(at, null, key: key);
        store.Audit(new AuditEvent(CliActor, operation, "ok", subject, 0));
    }
}
