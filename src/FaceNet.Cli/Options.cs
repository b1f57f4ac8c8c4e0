using System.CommandLine.Parsing;

namespace FaceNet.Cli;

/// <summary>
/// Options and arguments whose values are checked while the command line is parsed, before any file is
/// read: numbers as people write them ('.' for decimals, no thousands separators, finite, in range),
/// and image lists that do not swallow a mistyped option.
/// </summary>
internal static class Options
{
    /// <summary>A real number in [min, max] (open ends where asked), written with a decimal point.</summary>
    public static Option<double?> Real(string name, string description, double min, double max, bool minOpen = false,
        bool maxOpen = false, string? alias = null)
    {
        var o = alias is null ? new Option<double?>(name) : new Option<double?>(name, alias);
        o.Description = description;
        o.CustomParser = r => ParseReal(r, name, min, max, minOpen, maxOpen);
        return o;
    }

    /// <summary>As <see cref="Real(string, string, double, double, bool, bool, string?)"/>, with a default.</summary>
    public static Option<double> Real(string name, string description, double defaultValue, double min, double max, bool minOpen = false, bool maxOpen = false)
    {
        var o = new Option<double>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        o.CustomParser = r => ParseReal(r, name, min, max, minOpen, maxOpen) ?? defaultValue;
        return o;
    }

    /// <summary>A value parsed once where it is given; what the parser refuses is a usage error naming the option.</summary>
    public static T? Parsed<T>(ArgumentResult r, string name, Func<string, T> parse) where T : struct
        => TryParse(r, name, parse, out var v) ? v : null;

    /// <summary>As <see cref="Parsed{T}(ArgumentResult, string, Func{string, T})"/>, for a class.</summary>
    public static T? ParsedRef<T>(ArgumentResult r, string name, Func<string, T> parse) where T : class
        => TryParse(r, name, parse, out var v) ? v : null;

    private static bool TryParse<T>(ArgumentResult r, string name, Func<string, T> parse, out T value)
    {
        try
        {
            value = parse(r.Tokens.Count == 1 ? r.Tokens[0].Value : "");
            return true;
        }
        catch (Exception e) when (e is FaceNetException or FormatException)
        {
            r.AddError($"{name}: {(e is FaceNetException f ? f.Reason : e.Message)}");
            value = default!;
            return false;
        }
    }

    private static double? ParseReal(ArgumentResult r, string name, double min, double max, bool minOpen, bool maxOpen)
    {
        var token = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
        if (!double.TryParse(token, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture,
            out var v) || !double.IsFinite(v))
        {
            r.AddError($"{name}: '{token}' is not a number (decimals take a point: 0.9)");
            return null;
        }
        bool low = minOpen ? v <= min : v < min, high = maxOpen ? v >= max : v > max;
        if (low || high)
        {
            r.AddError($"{name}: {token} is outside {(minOpen ? "(" : "[")}{min.ToString(System.Globalization.CultureInfo.InvariantCulture)}, "
                + $"{max.ToString(System.Globalization.CultureInfo.InvariantCulture)}{(maxOpen ? ")" : "]")}");
            return null;
        }
        return v;
    }

    /// <summary>An integer option's values must lie in [min, max].</summary>
    public static T Within<T>(this T option, int min, int max = int.MaxValue) where T : Option
    {
        option.Validators.Add(r =>
        {
            foreach (var token in r.Tokens)
                if (int.TryParse(token.Value, System.Globalization.NumberStyles.AllowLeadingSign,
                    System.Globalization.CultureInfo.InvariantCulture, out var v) && (v < min || v > max))
                    r.AddError(max == int.MaxValue ? $"{option.Name}: {v} is below {min}" : $"{option.Name}: {v} is outside [{min}, {max}]");
        });
        return option;
    }

    /// <summary>Image (or folder) arguments: a word that starts with '-' and names no file is an option the command does not have.</summary>
    public static Argument<string[]> Images(string name, string description, ArgumentArity arity)
    {
        var a = new Argument<string[]>(name) { Arity = arity, Description = description };
        a.Validators.Add(r =>
        {
            foreach (var t in r.Tokens)
                if (t.Value.StartsWith('-') && t.Value.Length > 1 && !File.Exists(t.Value) && !Directory.Exists(t.Value))
                    r.AddError($"unknown option '{t.Value}'");
        });
        return a;
    }
    /// <summary>A switch.</summary>
    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary>An optional text (a path, a list, a connection string): null when not given.</summary>
    public static Option<string?> Text(string name, string description, string? alias = null) =>
        alias is null ? new(name) { Description = description } : new(name, Alias(alias)) { Description = description };

    /// <summary>A text with a default, limited to <paramref name="choices"/> when any are given.</summary>
    public static Option<string> Setting(string name, string description, string defaultValue, params string[] choices)
    {
        var o = new Option<string>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        if (choices.Length > 0) o.AcceptOnlyFromAmong(choices);
        return o;
    }

    /// <summary>A text the command cannot do without.</summary>
    public static Option<string> Required(string name, string description, string? alias = null) =>
        alias is null ? new(name) { Description = description, Required = true } : new(name, Alias(alias)) { Description = description, Required = true };

    // a default value given where an alias goes would be taken for one: aliases are short options
    private static string Alias(string alias) => alias is ['-', _] ? alias : throw new ArgumentException($"'{alias}' is not a short option", nameof(alias));

    /// <summary>A whole number in [min, max] with a default.</summary>
    public static Option<int> Int(string name, string description, int defaultValue, int min, int max = int.MaxValue) =>
        new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue }.Within(min, max);
}
