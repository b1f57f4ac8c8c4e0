using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Orleans;
using Orleans.Runtime;

namespace FaceNet.Cluster.Membership;

/// <summary>
/// Orleans' membership table kept in PostgreSQL, beside the galleries (schema <c>orleans</c>): a version
/// row per cluster and a row per silo, each with an etag. Writes are conditional in one transaction — a
/// row is inserted or updated only while the table is still at the version the silo read and (for an
/// update) the row at its etag — which is the agreement Orleans' membership protocol needs from its table.
/// </summary>
public sealed class PostgresMembershipTable(string connectionString, string clusterId) : IMembershipTable
{
    private const string Schema = """
        CREATE SCHEMA IF NOT EXISTS orleans;
        CREATE TABLE IF NOT EXISTS orleans.membership_version (
            cluster_id text PRIMARY KEY,
            version integer NOT NULL);
        CREATE TABLE IF NOT EXISTS orleans.membership (
            cluster_id text NOT NULL,
            silo text NOT NULL,
            etag bigint NOT NULL,
            status integer NOT NULL,
            i_am_alive timestamptz NOT NULL,
            entry text NOT NULL,
            PRIMARY KEY (cluster_id, silo));
        """;

    // silos starting together must not both create the tables
    private const long SchemaLock = 0x6f_72_6c_65_61_6e_73;

    private readonly NpgsqlDataSource _db = NpgsqlDataSource.Create(connectionString);

    public async Task InitializeMembershipTable(bool tryInitTableVersion)
    {
        await using var conn = await _db.OpenConnectionAsync().ConfigureAwait(false);
        await using var tx = await conn.BeginTransactionAsync().ConfigureAwait(false);
        await Exec(conn, tx, $"SELECT pg_advisory_xact_lock({SchemaLock})").ConfigureAwait(false);
        await Exec(conn, tx, Schema).ConfigureAwait(false);
        if (tryInitTableVersion)
            await Exec(conn, tx, "INSERT INTO orleans.membership_version(cluster_id, version) VALUES (@c, 0) ON CONFLICT DO NOTHING", ("c", clusterId)).ConfigureAwait(false);
        await tx.CommitAsync().ConfigureAwait(false);
    }

    public async Task DeleteMembershipTableEntries(string clusterId)
    {
        await using var conn = await _db.OpenConnectionAsync().ConfigureAwait(false);
        await Exec(conn, null, "DELETE FROM orleans.membership WHERE cluster_id = @c; DELETE FROM orleans.membership_version WHERE cluster_id = @c", ("c", clusterId))
            .ConfigureAwait(false);
    }

    public async Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate)
    {
        await using var conn = await _db.OpenConnectionAsync().ConfigureAwait(false);
        await Exec(conn, null, "DELETE FROM orleans.membership WHERE cluster_id = @c AND status = @dead AND i_am_alive < @t",
            ("c", clusterId), ("dead", (int)SiloStatus.Dead), ("t", beforeDate.UtcDateTime)).ConfigureAwait(false);
    }

    public Task<MembershipTableData> ReadRow(SiloAddress key) => Read(key);

    public Task<MembershipTableData> ReadAll() => Read(null);

    private async Task<MembershipTableData> Read(SiloAddress? only)
    {
        await using var conn = await _db.OpenConnectionAsync().ConfigureAwait(false);
        await using var tx = await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead).ConfigureAwait(false);
        int version = 0;
        await using (var v = new NpgsqlCommand("SELECT version FROM orleans.membership_version WHERE cluster_id = @c", conn, tx))
        {
            v.Parameters.AddWithValue("c", clusterId);
            if (await v.ExecuteScalarAsync().ConfigureAwait(false) is int found) version = found;
        }
        var rows = new List<Tuple<MembershipEntry, string>>();
        await using (var cmd = new NpgsqlCommand("SELECT entry, etag, i_am_alive FROM orleans.membership WHERE cluster_id = @c"
            + (only is null ? "" : " AND silo = @s"), conn, tx))
        {
            cmd.Parameters.AddWithValue("c", clusterId);
            if (only is not null) cmd.Parameters.AddWithValue("s", only.ToParsableString());
            await using var r = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
            while (await r.ReadAsync().ConfigureAwait(false))
            {
                var entry = FromJson(r.GetString(0));
                entry.IAmAliveTime = r.GetDateTime(2).ToUniversalTime();
                rows.Add(Tuple.Create(entry, r.GetInt64(1).ToString(CultureInfo.InvariantCulture)));
            }
        }
        await tx.CommitAsync().ConfigureAwait(false);
        return new MembershipTableData(rows, new TableVersion(version, version.ToString(CultureInfo.InvariantCulture)));
    }

    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) => Write(entry, null, tableVersion);

    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => Write(entry, etag, tableVersion);

    // the version moves from the one the silo read (the etag it carries) to the one it asks for, or nothing is written
    private async Task<bool> Write(MembershipEntry entry, string? etag, TableVersion tableVersion)
    {
        await using var conn = await _db.OpenConnectionAsync().ConfigureAwait(false);
        await using var tx = await conn.BeginTransactionAsync().ConfigureAwait(false);
        int read = int.Parse(tableVersion.VersionEtag, CultureInfo.InvariantCulture);
        await using (var bump = new NpgsqlCommand("UPDATE orleans.membership_version SET version = @next WHERE cluster_id = @c AND version = @read", conn, tx))
        {
            bump.Parameters.AddWithValue("next", tableVersion.Version);
            bump.Parameters.AddWithValue("c", clusterId);
            bump.Parameters.AddWithValue("read", read);
            if (await bump.ExecuteNonQueryAsync().ConfigureAwait(false) != 1) return false;
        }
        var silo = entry.SiloAddress.ToParsableString();
        await using (var cmd = etag is null
            ? new NpgsqlCommand("""
                INSERT INTO orleans.membership(cluster_id, silo, etag, status, i_am_alive, entry) VALUES (@c, @s, 0, @status, @alive, @e)
                ON CONFLICT DO NOTHING
                """, conn, tx)
            : new NpgsqlCommand("""
                UPDATE orleans.membership SET etag = etag + 1, status = @status, i_am_alive = @alive, entry = @e
                WHERE cluster_id = @c AND silo = @s AND etag = @etag
                """, conn, tx))
        {
            cmd.Parameters.AddWithValue("c", clusterId);
            cmd.Parameters.AddWithValue("s", silo);
            cmd.Parameters.AddWithValue("status", (int)entry.Status);
            cmd.Parameters.AddWithValue("alive", Utc(entry.IAmAliveTime));
            cmd.Parameters.AddWithValue("e", ToJson(entry));
            if (etag is not null) cmd.Parameters.AddWithValue("etag", long.Parse(etag, CultureInfo.InvariantCulture));
            if (await cmd.ExecuteNonQueryAsync().ConfigureAwait(false) != 1) return false;
        }
        await tx.CommitAsync().ConfigureAwait(false);
        return true;
    }

    public async Task UpdateIAmAlive(MembershipEntry entry)
    {
        await using var conn = await _db.OpenConnectionAsync().ConfigureAwait(false);
        await Exec(conn, null, "UPDATE orleans.membership SET i_am_alive = @t WHERE cluster_id = @c AND silo = @s",
            ("t", Utc(entry.IAmAliveTime)), ("c", clusterId), ("s", entry.SiloAddress.ToParsableString())).ConfigureAwait(false);
    }

    private static DateTime Utc(DateTime t) => t.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(t, DateTimeKind.Utc) : t.ToUniversalTime();

    internal static string ToJson(MembershipEntry e) => new JsonObject
    {
        ["silo"] = e.SiloAddress.ToParsableString(),
        ["status"] = (int)e.Status,
        ["suspects"] = new JsonArray([.. (e.SuspectTimes ?? []).Select(s => (JsonNode)new JsonArray(s.Item1.ToParsableString(), Utc(s.Item2).ToString("O", CultureInfo.InvariantCulture)))]),
        ["proxy_port"] = e.ProxyPort,
        ["host"] = e.HostName,
        ["name"] = e.SiloName,
        ["role"] = e.RoleName,
        ["update_zone"] = e.UpdateZone,
        ["fault_zone"] = e.FaultZone,
        ["start"] = Utc(e.StartTime).ToString("O", CultureInfo.InvariantCulture),
    }.ToJsonString();

    internal static MembershipEntry FromJson(string json)
    {
        var n = JsonNode.Parse(json)!;
        DateTime Time(JsonNode? t) => DateTime.Parse(t!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
        return new MembershipEntry
        {
            SiloAddress = SiloAddress.FromParsableString(n["silo"]!.GetValue<string>()),
            Status = (SiloStatus)n["status"]!.GetValue<int>(),
            SuspectTimes = [.. n["suspects"]!.AsArray().Select(s => Tuple.Create(SiloAddress.FromParsableString(s![0]!.GetValue<string>()), Time(s[1])))],
            ProxyPort = n["proxy_port"]!.GetValue<int>(),
            HostName = n["host"]?.GetValue<string>() ?? "",
            SiloName = n["name"]?.GetValue<string>() ?? "",
            RoleName = n["role"]?.GetValue<string>(),
            UpdateZone = n["update_zone"]!.GetValue<int>(),
            FaultZone = n["fault_zone"]!.GetValue<int>(),
            StartTime = Time(n["start"]),
        };
    }

    private static async Task Exec(NpgsqlConnection conn, NpgsqlTransaction? tx, string sql, params (string Name, object Value)[] parameters)
    {
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value);
        await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
    }
}
