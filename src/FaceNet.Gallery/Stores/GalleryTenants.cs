namespace FaceNet.Gallery;

/// <summary>
/// Where each tenant's gallery lives under one location — the one home of that layout, which the service, the
/// command line and the cluster ask: a folder of SQLite files (<c>DIR/TENANT.db</c>, the default tenant's
/// <c>DIR/default.db</c>) or one PostgreSQL database (a schema per tenant: <c>facenet</c> for <c>default</c>,
/// <c>facenet_TENANT</c> for the others). A single gallery file holds the default tenant only.
/// </summary>
public static class GalleryTenants
{
    public const string Default = "default";

    /// <summary>What a tenant's name may be (it becomes a file name and a schema name).</summary>
    public const string NameRule = "1 to 40 lower-case letters, digits and _, starting with a letter";

    public static bool IsName(string name)
        => name.Length is > 0 and <= 40 && char.IsAsciiLetterLower(name[0]) && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_');

    /// <summary>Whether the location is a folder of tenants' galleries (an existing folder, or a path ending in /).</summary>
    public static bool IsFolder(string location)
        => !GalleryStores.IsPostgres(location) && (Directory.Exists(location) || location.EndsWith('/') || location.EndsWith(Path.DirectorySeparatorChar));

    /// <summary>Whether the location can hold several tenants' galleries (a folder or a PostgreSQL database).</summary>
    public static bool Hosts(string location) => IsFolder(location) || GalleryStores.IsPostgres(location);

    /// <summary>The PostgreSQL schema that holds a tenant's gallery: <c>facenet</c> for the default tenant, <c>facenet_TENANT</c> for the others.</summary>
    public static string SchemaOf(string tenant) => tenant == Default ? PostgresGalleryStore.DefaultSchema : PostgresGalleryStore.DefaultSchema + "_" + tenant;

    /// <summary>
    /// Where a tenant's gallery is: <c>DIR/TENANT.db</c>, or the connection string with the tenant's schema as its
    /// search path; the default tenant of a single gallery file is that file.
    /// </summary>
    public static string LocationOf(string location, string tenant)
    {
        if (!IsName(tenant)) throw new ArgumentException($"'{tenant}' is not a tenant name ({NameRule})", nameof(tenant));
        if (GalleryStores.IsPostgres(location))
            return tenant == Default ? location : PostgresGalleryStore.WithSchema(location, SchemaOf(tenant));
        if (IsFolder(location)) return Path.Combine(location, tenant + ".db");
        if (tenant == Default) return location;
        throw new GalleryException(location, $"one gallery file holds the default tenant only, not '{tenant}' (give a folder of tenants' galleries)",
            FaceNetErrorKind.Setting);
    }

    /// <summary>Every tenant there, <c>default</c> first (whether or not its gallery exists yet).</summary>
    public static IReadOnlyList<string> List(string location)
    {
        var names = new List<string> { Default };
        if (GalleryStores.IsPostgres(location))
            names.AddRange(PostgresGalleryStore.TenantSchemas(location).Select(s => s[(PostgresGalleryStore.DefaultSchema.Length + 1)..]).Where(IsName));
        else if (IsFolder(location) && Directory.Exists(location))
            names.AddRange(Directory.EnumerateFiles(location, "*.db").Select(f => Path.GetFileNameWithoutExtension(f)!)
                .Where(n => n != Default && IsName(n)).Order(StringComparer.Ordinal));
        return names;
    }

    /// <summary>Whether the tenant's gallery exists (a file, or a schema holding a bound gallery).</summary>
    public static bool Exists(string location, string tenant)
        => IsName(tenant) && (tenant == Default || Hosts(location)) && GalleryStores.Exists(LocationOf(location, tenant));

    /// <summary>Makes a tenant's gallery, empty and bound to <paramref name="model"/> (encrypted when given a key); refused when it exists.</summary>
    public static IGalleryStore Create(string location, string tenant, GalleryModel model, Protection.MasterKey? key = null)
    {
        var at = LocationOf(location, tenant);
        if (!Hosts(location)) throw new GalleryException(location,
            "one gallery file holds the default tenant only: host tenants in a folder (DIR/) or a PostgreSQL database", FaceNetErrorKind.Conflict);
        if (tenant == Default || GalleryStores.Exists(at)) throw new GalleryException(location, $"tenant '{tenant}' exists already", FaceNetErrorKind.Conflict);
        if (IsFolder(location)) CreateFolder(location);
        return GalleryStores.Open(at, model, key: key);
    }

    /// <summary>Opens an existing tenant's gallery; never makes one (a tenant removed meanwhile stays removed).</summary>
    public static IGalleryStore Open(string location, string tenant, GalleryModel? model, Protection.MasterKey? key = null, bool readOnly = false)
        => GalleryStores.Open(LocationOf(location, tenant), model, readOnly, key, create: false);

    /// <summary>Erases a tenant: its gallery's files (SQLite) or its schema (PostgreSQL); false when it had none. The default tenant stays.</summary>
    public static bool Drop(string location, string tenant)
    {
        if (tenant == Default) throw new GalleryException(location, "the default tenant cannot be removed (remove its subjects instead)", FaceNetErrorKind.Conflict);
        var at = LocationOf(location, tenant);
        if (!Hosts(location)) return false;
        if (GalleryStores.IsPostgres(location)) return PostgresGalleryStore.DropSchema(location, SchemaOf(tenant));
        bool existed = File.Exists(at);
        GalleryStores.Delete(at);
        return existed;
    }

    /// <summary>A folder for tenants' galleries, made readable by its owner only (0700) when new.</summary>
    public static void CreateFolder(string folder)
    {
        if (Directory.Exists(folder)) return;
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(folder);
        else Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}
