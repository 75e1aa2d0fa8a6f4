/*
 * Metrics. Not collected yet: the calls are in place at every site that
 * counts something; the shared-memory counters come with the status page.
 */
#include "jpki_metrics.h"

void jpki_metrics_login(server_rec *s, const char *outcome)
{
    (void)s;
    (void)outcome;
}
void jpki_metrics_session(server_rec *s, int delta)
{
    (void)s;
    (void)delta;
}
void jpki_metrics_cache(server_rec *s, int ns, int hit)
{
    (void)s;
    (void)ns;
    (void)hit;
}
void jpki_metrics_status_call(server_rec *s, const char *purpose, const char *cert_type,
                              long latency_ms, int ok)
{
    (void)s;
    (void)purpose;
    (void)cert_type;
    (void)latency_ms;
    (void)ok;
}
void jpki_metrics_breaker(server_rec *s, int open)
{
    (void)s;
    (void)open;
}
void jpki_metrics_grace(server_rec *s)
{
    (void)s;
}
