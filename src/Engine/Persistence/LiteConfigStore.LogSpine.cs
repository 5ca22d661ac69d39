using LiteDB;

namespace Quota.Engine.Persistence;

internal sealed partial class LiteConfigStore
{
    /// <summary>
    /// An index of the log whose order is the page's order (newest first within one filter), so a page is read along it
    /// without sorting: by row id; by key then id; by user then id; and system rows by id (consume rows index as 0, below
    /// every system row). Rows are never updated, so these computed keys never move. Ids are below 2^32.
    /// </summary>
    internal sealed class LogSpine
    {
        private const long Stride = 1L << 32; // a key's or user's rows: [id·2^32 + 1, id·2^32 + 2^32 - 1]

        public static readonly LogSpine ById = new("by_id", "$._id");
        public static readonly LogSpine ByToken = new("by_token_id", $"($.TokenId * {Stride} + $._id)");
        public static readonly LogSpine ByUser = new("by_user_id", $"($.UserId * {Stride} + $._id)");
        public static readonly LogSpine BySystem = new("by_system_id", $"IIF($.Kind = '{nameof(LogKind.Consume)}', 0, $._id)");

        private LogSpine(string name, string expression)
        {
            Name = name;
            Expression = BsonExpression.Create(expression);
        }

        public string Name { get; }
        public BsonExpression Expression { get; }

        public static void EnsureIndexes(ILiteCollection<LogDocument> logs)
        {
            foreach (LogSpine spine in new[] { ByToken, ByUser, BySystem })
            {
                logs.EnsureIndex(spine.Name, spine.Expression);
            }

            // The indexes of builds before these: no query reads them any more.
            logs.DropIndex("TokenId");
            logs.DropIndex("UserId");
        }

        /// <summary>The index that covers the query's most selective filter.</summary>
        public static LogSpine For(LogQuery query) =>
            query.TokenId is not null ? ByToken
            : query.UserId is not null ? ByUser
            : query.Consume == false || query.Kind is { } kind && kind != LogKind.Consume ? BySystem
            : ById;

        /// <summary>The range of this index the query reads: its key's or user's rows, below its cursor.</summary>
        public BsonExpression Range(LogQuery query)
        {
            long before = Math.Min(query.BeforeId ?? Stride, Stride);
            long group = this == ByToken ? query.TokenId!.Value * Stride : this == ByUser ? query.UserId!.Value * Stride : 0;
            return BsonExpression.Create($"{Expression.Source} BETWEEN @0 AND @1", new BsonValue(group + 1), new BsonValue(group + before - 1));
        }
    }
}
