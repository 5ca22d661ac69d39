using Quota.Engine.Diagnostics;

namespace Quota.Engine.Persistence;

/// <summary>Hands each audit event to two sinks.</summary>
internal sealed class TeeAuditSink(IAuditSink first, IAuditSink second) : IAuditSink
{
    public void Record(in AuditEvent auditEvent)
    {
        first.Record(auditEvent);
        second.Record(auditEvent);
    }

    public void BeforeCheckpoint()
    {
        first.BeforeCheckpoint();
        second.BeforeCheckpoint();
    }
}
