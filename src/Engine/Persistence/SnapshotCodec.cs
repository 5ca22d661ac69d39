using Quota.Engine.Accounts;
using Quota.Engine.Leases;
using Quota.Engine.Model;
using Quota.Engine.Reservations;
using Quota.Engine.Windows;

namespace Quota.Engine.Persistence;

/// <summary>
/// The binary snapshot of an engine's state: users, keys with their configuration and counters, and every reservation
/// record (open ones, and finished ones so that repeats keep their replies across a restart), tagged with the sequence
/// number of the last delta record it contains. Written from engines no one else touches (a checkpoint replays the log
/// into them, one partition of the users at a time: see <see cref="CheckpointWriter"/>), so it is consistent by construction.
/// <para>Version 3 is a stream of tagged entries (a user, a key, a reservation) in any order, so a snapshot can be written
/// partition by partition, and carries each policy's enforcement and its window's shadow refusal count; version 4 adds
/// each window's lease words (leased mode, net lease, charges reported) and its pending closing report; versions 3 and 2
/// (users, then keys, then reservations, each in id order) are still read, as windows that are not leased. A reader may
/// keep only the users a predicate owns, with their keys and reservations. A version-2 policy enforces and has counted
/// no shadow refusal.</para>
/// </summary>
internal static class SnapshotCodec
{
    private const uint Magic = 0x504E_5351; // "QSNP"
    private const int Version = 4;
    private const int ShadowVersion = 3;
    private const int SequentialVersion = 2;
    private const byte EndTag = 0, UserTag = 1, KeyTag = 2, ReservationTag = 3;

    /// <summary>The whole engine as one snapshot.</summary>
    public static void Write(QuotaEngine engine, Stream stream, long sequence)
    {
        using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        Begin(w, sequence, engine.Reservations.Epoch);
        WriteAccounts(w, engine, pace: null);
        ReservationTable table = engine.Reservations;
        for (int slot = 0; slot < table.Capacity; slot++)
        {
            long word = table.StateWordOf(slot);
            if (ReservationTable.StateOf(word) != ReservationState.Free)
            {
                WriteReservation(w, slot, word, table[slot]);
            }
        }

        End(w);
    }

    public static void Begin(BinaryWriter w, long sequence, int epoch)
    {
        w.Write(Magic);
        w.Write(Version);
        w.Write(sequence);
        w.Write(epoch);
    }

    /// <summary>Every user and key the engine holds (a partition's, in a checkpoint); <paramref name="pace"/> runs between keys.</summary>
    public static void WriteAccounts(BinaryWriter w, QuotaEngine engine, Action? pace)
    {
        for (int userId = 1; userId <= engine.LastUserId; userId++)
        {
            if (engine.FindUser(userId) is { } user)
            {
                w.Write(UserTag);
                w.Write(userId);
                WriteBalance(w, user.Wallet);
            }
        }

        for (int tokenId = 1; tokenId <= engine.LastTokenId; tokenId++)
        {
            if (engine.FindKey(tokenId) is { } key)
            {
                w.Write(KeyTag);
                w.Write(tokenId);
                WriteKey(w, key);
                pace?.Invoke();
            }
        }
    }

    public static void WriteReservation(BinaryWriter w, int slot, long word, in ReservationRecord record)
    {
        w.Write(ReservationTag);
        w.Write(slot);
        w.Write(word);
        w.Write(record.TokenId);
        w.Write(record.UserId);
        w.Write(record.AmountUnits);
        w.Write(record.TokenUnits);
        w.Write(record.ChargedUnits);
        w.Write(record.ChargedTokens);
        w.Write(record.ExpiresAtMs);
        w.Write(record.Generations);
        w.Write(record.RequestKey);
        w.Write(record.PolicyMask);
        w.Write(record.Exhausted);
    }

    public static void End(BinaryWriter w)
    {
        w.Write(EndTag);
        w.Write(Magic);
    }

    /// <summary>
    /// Reads a snapshot into a new engine, keeping the users <paramref name="owns"/> accepts, with their keys and
    /// reservations (null: everything); <paramref name="pace"/> runs between keys.
    /// </summary>
    public static QuotaEngine Read(Stream stream, EngineOptions options, TimeProvider time, out long sequence, Func<int, bool>? owns = null, Action? pace = null)
    {
        using var r = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        owns ??= static _ => true;
        int version = r.ReadUInt32() == Magic ? r.ReadInt32() : -1;
        if (version is not (Version or ShadowVersion or SequentialVersion))
        {
            throw new InvalidDataException("not a quota engine snapshot of a known version");
        }

        sequence = r.ReadInt64();
        var engine = new QuotaEngine(options, time: time);
        engine.Reservations.RecoverEpoch(r.ReadInt32());
        if (version == SequentialVersion)
        {
            ReadSequential(r, engine, owns, pace);
        }
        else
        {
            ReadTagged(r, engine, owns, pace, version);
        }

        if (r.ReadUInt32() != Magic)
        {
            throw new InvalidDataException("snapshot trailer missing: the snapshot is truncated");
        }

        return engine;
    }

    private static void ReadTagged(BinaryReader r, QuotaEngine engine, Func<int, bool> owns, Action? pace, int version)
    {
        for (byte tag = r.ReadByte(); tag != EndTag; tag = r.ReadByte())
        {
            switch (tag)
            {
                case UserTag:
                    ReadUser(r, engine, r.ReadInt32(), owns);
                    break;
                case KeyTag:
                    ReadKey(r, engine, r.ReadInt32(), owns, version);
                    pace?.Invoke();
                    break;
                case ReservationTag:
                    ReadReservation(r, engine.Reservations, owns);
                    break;
                default:
                    throw new InvalidDataException($"snapshot entry of unknown kind {tag}");
            }
        }
    }

    private static void ReadSequential(BinaryReader r, QuotaEngine engine, Func<int, bool> owns, Action? pace)
    {
        int lastUserId = r.ReadInt32();
        for (int userId = 1; userId <= lastUserId; userId++)
        {
            if (r.ReadBoolean())
            {
                ReadUser(r, engine, userId, owns);
            }
        }

        int lastTokenId = r.ReadInt32();
        for (int tokenId = 1; tokenId <= lastTokenId; tokenId++)
        {
            if (r.ReadBoolean())
            {
                ReadKey(r, engine, tokenId, owns, SequentialVersion);
                pace?.Invoke();
            }
        }

        int count = r.ReadInt32();
        for (int i = 0; i < count; i++)
        {
            ReadReservation(r, engine.Reservations, owns);
        }
    }

    private static void ReadUser(BinaryReader r, QuotaEngine engine, int userId, Func<int, bool> owns)
    {
        BalanceCell skipped = default;
        ReadBalance(r, ref owns(userId) ? ref engine.UserFor(userId).Wallet : ref skipped);
    }

    private static void WriteKey(BinaryWriter w, KeyState key)
    {
        w.Write(key.User.UserId);
        KeyConfig config = key.Config;
        w.Write(config.StatusWord);
        w.Write(config.Unlimited);
        w.Write(config.ExpiresAtMs);
        WriteBalance(w, key.Budget);
        for (int index = 0; index < EngineLimits.PoliciesPerKeyMax; index++)
        {
            PolicySlot? slot = key.Slots?[index];
            w.Write(slot is not null);
            if (slot is null)
            {
                continue;
            }

            WriteSpec(w, slot.Config.Spec);
            (long headroom, long used, long quota, long shadowRefusals) = slot.Cell.RawWords;
            w.Write(headroom);
            w.Write(used);
            w.Write(quota);
            w.Write(shadowRefusals);
            w.Write(slot.Cell.WindowStartMs);
            w.Write(slot.Cell.WindowEndMs);
            (bool isLeased, long leased, long reported) = slot.Cell.RawLeaseWords;
            w.Write(isLeased);
            w.Write(leased);
            w.Write(reported);
            WriteClosing(w, slot.Closing);
            w.Write(slot.ExhaustedAtMs);
            w.Write((byte)slot.PausedFromStatus);
            w.Write(slot.PausedGeneration);
            w.Write(slot.Removed);
        }
    }

    /// <summary>Reads a key; one whose user is not owned is read past, and nothing of it is kept.</summary>
    private static void ReadKey(BinaryReader r, QuotaEngine engine, int tokenId, Func<int, bool> owns, int version)
    {
        int userId = r.ReadInt32();
        KeyState? key = owns(userId) ? engine.KeyFor(tokenId, userId) : null;
        int statusWord = r.ReadInt32();
        bool unlimited = r.ReadBoolean();
        long expiresAtMs = r.ReadInt64();
        BalanceCell skipped = default;
        ReadBalance(r, ref key is null ? ref skipped : ref key.Budget);
        for (int index = 0; index < EngineLimits.PoliciesPerKeyMax; index++)
        {
            if (!r.ReadBoolean())
            {
                continue;
            }

            QuotaPolicySpec spec = ReadSpec(r, version);
            long headroom = r.ReadInt64(), used = r.ReadInt64(), quota = r.ReadInt64();
            long shadowRefusals = version >= ShadowVersion ? r.ReadInt64() : WindowWord.Pack(WindowWord.Generation(used), 0);
            long startMs = r.ReadInt64(), endMs = r.ReadInt64();
            long unleased = WindowWord.Pack(WindowWord.Generation(used), 0);
            (bool isLeased, long leased, long reported) = version >= Version ? (r.ReadBoolean(), r.ReadInt64(), r.ReadInt64()) : (false, unleased, unleased);
            LeaseClosing closing = version >= Version ? ReadClosing(r) : default;
            long exhaustedAtMs = r.ReadInt64();
            var pausedFromStatus = (TokenStatus)r.ReadByte();
            ushort pausedGeneration = r.ReadUInt16();
            bool removed = r.ReadBoolean();
            if (key is null)
            {
                continue;
            }

            PolicySlot slot = QuotaEngine.SlotFor(key, index);
            slot.Config = new PolicyConfig(spec, WindowRule.Create(spec.Mode, spec.CustomMinutes, spec.AnchorMs, spec.TimeZone), engine.Options.AlertThresholdsPercent);
            slot.Cell.RestoreRaw(headroom, used, quota, shadowRefusals, startMs, endMs);
            slot.Cell.RestoreRawLease(isLeased, leased, reported);
            slot.Closing = closing;
            slot.ExhaustedAtMs = exhaustedAtMs;
            slot.PausedFromStatus = pausedFromStatus;
            slot.PausedGeneration = pausedGeneration;
            slot.Removed = removed;
        }

        key?.Publish((TokenStatus)(statusWord & KeyConfig.OperatorStatusMask), unlimited, expiresAtMs, (statusWord & KeyConfig.DeletedFlag) != 0);
    }

    private static void WriteClosing(BinaryWriter w, LeaseClosing closing)
    {
        w.Write(closing.Generation);
        w.Write(closing.WindowStartMs);
        w.Write(closing.WindowEndMs);
        w.Write(closing.QuotaUnits);
        w.Write(closing.ChargedUnits);
        w.Write(closing.GivenBackUnits);
    }

    private static LeaseClosing ReadClosing(BinaryReader r) =>
        new(r.ReadUInt16(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64());

    private static void WriteSpec(BinaryWriter w, QuotaPolicySpec spec)
    {
        w.Write(spec.Enabled);
        w.Write((byte)spec.Mode);
        w.Write(spec.CustomMinutes);
        w.Write(spec.QuotaUnits);
        w.Write(spec.AnchorMs);
        w.Write(spec.TimeZone);
        w.Write((byte)spec.ExhaustedAction);
        w.Write((byte)spec.BoundaryMode);
        w.Write(spec.AutoResume);
        w.Write((byte)spec.Metric);
        w.Write((byte)spec.Enforcement);
        w.Write(spec.Models.Count);
        foreach (string model in spec.Models)
        {
            w.Write(model);
        }
    }

    private static QuotaPolicySpec ReadSpec(BinaryReader r, int version) => new()
    {
        Enabled = r.ReadBoolean(),
        Mode = (PeriodMode)r.ReadByte(),
        CustomMinutes = r.ReadInt32(),
        QuotaUnits = r.ReadInt64(),
        AnchorMs = r.ReadInt64(),
        TimeZone = r.ReadString(),
        ExhaustedAction = (ExhaustedAction)r.ReadByte(),
        BoundaryMode = (BoundaryMode)r.ReadByte(),
        AutoResume = r.ReadBoolean(),
        Metric = (PolicyMetric)r.ReadByte(),
        Enforcement = version >= ShadowVersion ? (PolicyEnforcement)r.ReadByte() : PolicyEnforcement.Enforce,
        Models = ReadModels(r),
    };

    private static string[] ReadModels(BinaryReader r)
    {
        var models = new string[r.ReadInt32()];
        for (int i = 0; i < models.Length; i++)
        {
            models[i] = r.ReadString();
        }

        return models;
    }

    private static void WriteBalance(BinaryWriter w, in BalanceCell cell)
    {
        (long available, long balance, long credited) = cell.RawWords;
        w.Write(available);
        w.Write(balance);
        w.Write(credited);
    }

    private static void ReadBalance(BinaryReader r, ref BalanceCell cell) =>
        cell.RestoreRaw(r.ReadInt64(), r.ReadInt64(), r.ReadInt64());

    private static void ReadReservation(BinaryReader r, ReservationTable table, Func<int, bool> owns)
    {
        int slot = r.ReadInt32();
        long word = r.ReadInt64();
        if ((uint)slot >= (uint)table.Capacity)
        {
            throw new InvalidDataException($"snapshot reservation slot {slot} exceeds ReservationsMax {table.Capacity}: ReservationsMax must not shrink");
        }

        var fields = new ReservationRecord
        {
            TokenId = r.ReadInt32(),
            UserId = r.ReadInt32(),
            AmountUnits = r.ReadInt64(),
            TokenUnits = r.ReadInt64(),
            ChargedUnits = r.ReadInt64(),
            ChargedTokens = r.ReadInt64(),
            ExpiresAtMs = r.ReadInt64(),
            Generations = r.ReadInt64(),
            RequestKey = r.ReadInt64(),
            PolicyMask = r.ReadByte(),
            Exhausted = r.ReadBoolean(),
        };
        if (owns(fields.UserId))
        {
            table.Restore(table.IdOf(slot, word), ReservationTable.StateOf(word), fields);
        }
    }
}
