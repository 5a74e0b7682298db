#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv */
/* port/posix: HOST[:PORT], proxy URL, no_proxy (curl semantics), the
 * environment lookup, and the settings it fills (tse_posix.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tse_posix.h"
#include "tt.h"

static int hp(const char *s, const char *host, unsigned port)
{
    char h[TSE_POSIX_HOST_MAX];
    uint16_t p = 0;
    if (tse_posix_parse_hostport(s, h, sizeof h, &p, 443) != 0)
        return 0;
    return strcmp(h, host) == 0 && p == port;
}

static int hp_bad(const char *s)
{
    char h[TSE_POSIX_HOST_MAX];
    uint16_t p = 0;
    return tse_posix_parse_hostport(s, h, sizeof h, &p, 443) == -1;
}

TT_TEST(hostport_forms)
{
    TT_ASSERT(hp("tscf.example.net", "tscf.example.net", 443));
    TT_ASSERT(hp("tscf.example.net:8443", "tscf.example.net", 8443));
    TT_ASSERT(hp("127.0.0.1:1", "127.0.0.1", 1));
    TT_ASSERT(hp("127.0.0.1:65535", "127.0.0.1", 65535));
    TT_ASSERT(hp("[::1]", "::1", 443));
    TT_ASSERT(hp("[::1]:4433", "::1", 4433));
    TT_ASSERT(hp("[2001:db8::7]:80", "2001:db8::7", 80));
    TT_ASSERT(hp("2001:db8::7", "2001:db8::7", 443)); /* bare v6: no port */
}

TT_TEST(hostport_errors)
{
    char small[4];
    uint16_t p;
    TT_ASSERT(hp_bad(""));
    TT_ASSERT(hp_bad(":443"));
    TT_ASSERT(hp_bad("host:"));
    TT_ASSERT(hp_bad("host:0"));
    TT_ASSERT(hp_bad("host:65536"));
    TT_ASSERT(hp_bad("host:123456"));
    TT_ASSERT(hp_bad("host:44a"));
    TT_ASSERT(hp_bad("host:-1"));
    TT_ASSERT(hp_bad("[::1"));
    TT_ASSERT(hp_bad("[]:443"));
    TT_ASSERT(hp_bad("[::1]443"));
    TT_ASSERT(hp_bad("[::1]:"));
    TT_ASSERT(hp_bad("ho st"));
    TT_ASSERT(hp_bad("user@host"));
    TT_ASSERT(hp_bad("host/path"));
    TT_ASSERT(tse_posix_parse_hostport(NULL, small, sizeof small, &p, 1) == -1);
    /* too long for the caller's buffer: refused, not truncated */
    TT_ASSERT(tse_posix_parse_hostport("abcd", small, sizeof small, &p, 1) == -1);
    TT_ASSERT(tse_posix_parse_hostport("abc", small, sizeof small, &p, 1) == 0);
    TT_ASSERT(strcmp(small, "abc") == 0);
}

TT_TEST(proxy_url_ok)
{
    tse_posix_proxy px;
    const char *why = NULL;
    TT_EQ_INT(tse_posix_parse_proxy_url("http://proxy.lan:3128", &px, &why), 0);
    TT_ASSERT(strcmp(px.host, "proxy.lan") == 0);
    TT_EQ_INT(px.port, 3128);
    TT_EQ_INT(px.has_auth, 0);

    TT_EQ_INT(tse_posix_parse_proxy_url("HTTP://proxy.lan/", &px, &why), 0);
    TT_EQ_INT(px.port, TSE_POSIX_PROXY_DEFAULT_PORT); /* curl's default */

    TT_EQ_INT(tse_posix_parse_proxy_url("proxy.lan:8080", &px, &why), 0); /* no scheme */
    TT_EQ_INT(px.port, 8080);

    TT_EQ_INT(tse_posix_parse_proxy_url("http://alice:s3cr%3At@[::1]:8080", &px, &why), 0);
    TT_ASSERT(strcmp(px.host, "::1") == 0);
    TT_EQ_INT(px.port, 8080);
    TT_EQ_INT(px.has_auth, 1);
    TT_ASSERT(strcmp(px.user, "alice") == 0);
    TT_ASSERT(strcmp(px.pass, "s3cr:t") == 0);

    /* '@' in the password, encoded or not: the LAST '@' ends userinfo */
    TT_EQ_INT(tse_posix_parse_proxy_url("http://bob:p@ss@10.0.0.1:3128", &px, &why), 0);
    TT_ASSERT(strcmp(px.user, "bob") == 0);
    TT_ASSERT(strcmp(px.pass, "p@ss") == 0);
    TT_ASSERT(strcmp(px.host, "10.0.0.1") == 0);

    /* user without password */
    TT_EQ_INT(tse_posix_parse_proxy_url("http://carol%40corp@proxy:1", &px, &why), 0);
    TT_ASSERT(strcmp(px.user, "carol@corp") == 0);
    TT_ASSERT(strcmp(px.pass, "") == 0);
    TT_EQ_INT(px.has_auth, 1);
}

TT_TEST(proxy_url_errors)
{
    tse_posix_proxy px;
    const char *why = NULL;
    TT_EQ_INT(tse_posix_parse_proxy_url("https://proxy:443", &px, &why), -1);
    TT_ASSERT(why && strstr(why, "https"));
    why = NULL;
    TT_EQ_INT(tse_posix_parse_proxy_url("socks5://proxy:1080", &px, &why), -1);
    TT_ASSERT(why != NULL);
    TT_EQ_INT(tse_posix_parse_proxy_url("http://", &px, &why), -1);
    TT_EQ_INT(tse_posix_parse_proxy_url("http://proxy:0", &px, &why), -1);
    TT_EQ_INT(tse_posix_parse_proxy_url("http://proxy:99999", &px, &why), -1);
    TT_EQ_INT(tse_posix_parse_proxy_url("http://proxy:80/path", &px, &why), -1);
    TT_EQ_INT(tse_posix_parse_proxy_url("http://proxy:80?x", &px, &why), -1);
    TT_EQ_INT(tse_posix_parse_proxy_url("http://u:%zz@proxy", &px, &why), -1);
    TT_EQ_INT(tse_posix_parse_proxy_url("http://u:%4@proxy", &px, &why), -1);
    TT_EQ_INT(tse_posix_parse_proxy_url("http://u:%00@proxy", &px, &why), -1);
    TT_EQ_INT(tse_posix_parse_proxy_url("http://:pw@proxy", &px, &why), -1);
    TT_EQ_INT(tse_posix_parse_proxy_url("http://[::1:80", &px, &why), -1);
    TT_EQ_INT(tse_posix_parse_proxy_url(NULL, &px, &why), -1);
}

TT_TEST(no_proxy_names)
{
    TT_EQ_INT(tse_posix_no_proxy_match(NULL, "a.example"), 0);
    TT_EQ_INT(tse_posix_no_proxy_match("", "a.example"), 0);
    TT_EQ_INT(tse_posix_no_proxy_match("*", "anything.at.all"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match(" * ", "10.1.2.3"), 1);
    /* '*' is only a wildcard on its own (curl) */
    TT_EQ_INT(tse_posix_no_proxy_match("*.example.com", "www.example.com"), 0);

    TT_EQ_INT(tse_posix_no_proxy_match("example.com", "example.com"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("example.com", "www.example.com"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("example.com", "a.b.example.com"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("example.com", "notexample.com"), 0);
    TT_EQ_INT(tse_posix_no_proxy_match("example.com", "example.com.org"), 0);
    TT_EQ_INT(tse_posix_no_proxy_match("example.com", "com"), 0);
    TT_EQ_INT(tse_posix_no_proxy_match(".example.com", "example.com"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match(".example.com", "www.example.com"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("EXAMPLE.Com", "www.example.COM"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("example.com.", "www.example.com"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("example.com", "www.example.com."), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("example.com:8443", "example.com"), 1);
    /* lists: commas and/or blanks, empty entries */
    TT_EQ_INT(tse_posix_no_proxy_match("localhost, ,,intra.lan  example.com", "x.example.com"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("localhost,intra.lan", "x.example.com"), 0);
    TT_EQ_INT(tse_posix_no_proxy_match("localhost,*", "x.example.com"), 0);
}

TT_TEST(no_proxy_ips)
{
    TT_EQ_INT(tse_posix_no_proxy_match("127.0.0.1", "127.0.0.1"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("127.0.0.1", "127.0.0.10"), 0);
    /* IP literals never suffix-match */
    TT_EQ_INT(tse_posix_no_proxy_match("0.0.1", "127.0.0.1"), 0);
    TT_EQ_INT(tse_posix_no_proxy_match("1", "127.0.0.1"), 0);
    TT_EQ_INT(tse_posix_no_proxy_match("192.168.0.0/16", "192.168.44.3"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("192.168.0.0/16", "192.169.0.1"), 0);
    TT_EQ_INT(tse_posix_no_proxy_match("10.0.0.0/9", "10.127.255.255"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("10.0.0.0/9", "10.128.0.0"), 0);
    TT_EQ_INT(tse_posix_no_proxy_match("0.0.0.0/0", "8.8.8.8"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("10.0.0.0/33", "10.0.0.1"), 0);
    TT_EQ_INT(tse_posix_no_proxy_match("10.0.0.0/", "10.0.0.0"), 0);
    TT_EQ_INT(tse_posix_no_proxy_match("::1", "::1"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("::1", "[::1]"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("[::1]", "::1"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("0:0:0:0:0:0:0:1", "::1"), 1); /* as addresses */
    TT_EQ_INT(tse_posix_no_proxy_match("2001:db8::/32", "2001:db8:ffff::5"), 1);
    TT_EQ_INT(tse_posix_no_proxy_match("2001:db8::/32", "2001:db9::5"), 0);
    /* families never match each other */
    TT_EQ_INT(tse_posix_no_proxy_match("::ffff:127.0.0.1", "127.0.0.1"), 0);
    /* a name entry never matches an IP host */
    TT_EQ_INT(tse_posix_no_proxy_match("localhost", "127.0.0.1"), 0);
}

struct fake_env { const char *names[8]; const char *values[8]; };

static const char *fake_get(void *user, const char *name)
{
    struct fake_env *e = user;
    int i;
    for (i = 0; i < 8 && e->names[i]; i++)
        if (strcmp(e->names[i], name) == 0)
            return e->values[i];
    return NULL;
}

TT_TEST(env_lookup)
{
    tse_posix_proxy px;
    const char *why = NULL, *var = NULL;
    struct fake_env none = { { NULL }, { NULL } };
    struct fake_env upper = { { "HTTPS_PROXY", "no_proxy" },
                              { "http://p1:3128", "internal.lan,10.0.0.0/8" } };
    struct fake_env both = { { "HTTPS_PROXY", "https_proxy", "NO_PROXY" },
                             { "http://upper:1", "http://lower:2", "*" } };
    struct fake_env empty_lower = { { "https_proxy", "ALL_PROXY" },
                                    { "", "http://all:9" } };
    struct fake_env bad = { { "https_proxy" }, { "https://secure:443" } };

    TT_EQ_INT(tse_posix_proxy_from_env(fake_get, &none, "tscf.example", &px, &why, &var), 0);

    TT_EQ_INT(tse_posix_proxy_from_env(fake_get, &upper, "tscf.example", &px, &why, &var), 1);
    TT_ASSERT(strcmp(px.host, "p1") == 0);
    TT_EQ_INT(px.port, 3128);
    TT_ASSERT(var && strcmp(var, "HTTPS_PROXY") == 0);
    TT_EQ_INT(tse_posix_proxy_from_env(fake_get, &upper, "tscf.internal.lan", &px, &why, &var), 0);
    TT_EQ_INT(tse_posix_proxy_from_env(fake_get, &upper, "10.9.8.7", &px, &why, &var), 0);
    TT_EQ_INT(tse_posix_proxy_from_env(fake_get, &upper, "11.9.8.7", &px, &why, &var), 1);

    /* lowercase wins; NO_PROXY=* exempts everything */
    TT_EQ_INT(tse_posix_proxy_from_env(fake_get, &both, "x", &px, &why, &var), 0);
    both.names[2] = "UNUSED";
    TT_EQ_INT(tse_posix_proxy_from_env(fake_get, &both, "x", &px, &why, &var), 1);
    TT_ASSERT(strcmp(px.host, "lower") == 0);

    /* an empty variable counts as unset */
    TT_EQ_INT(tse_posix_proxy_from_env(fake_get, &empty_lower, "x", &px, &why, &var), 1);
    TT_ASSERT(strcmp(px.host, "all") == 0);
    TT_ASSERT(strcmp(var, "ALL_PROXY") == 0);

    why = NULL;
    TT_EQ_INT(tse_posix_proxy_from_env(fake_get, &bad, "x", &px, &why, &var), -1);
    TT_ASSERT(why != NULL);
    TT_ASSERT(strcmp(var, "https_proxy") == 0);
}

/* get == NULL reads the process environment itself */
TT_TEST(env_getenv)
{
    tse_posix_proxy px;
    const char *why = NULL, *var = NULL;
    static const char *const vars[] = { "https_proxy", "HTTPS_PROXY", "all_proxy",
                                        "ALL_PROXY", "no_proxy", "NO_PROXY" };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    TT_EQ_INT(tse_posix_proxy_from_env(NULL, NULL, "tscf.example", &px, &why, &var), 0);
    TT_EQ_INT(setenv("all_proxy", "http://u%40x:p%3Aw@[2001:db8::8]:8080/", 1), 0);
    TT_EQ_INT(tse_posix_proxy_from_env(NULL, NULL, "tscf.example", &px, &why, &var), 1);
    TT_ASSERT(strcmp(px.host, "2001:db8::8") == 0);
    TT_EQ_INT(px.port, 8080);
    TT_ASSERT(px.has_auth && strcmp(px.user, "u@x") == 0 && strcmp(px.pass, "p:w") == 0);
    TT_EQ_INT(setenv("NO_PROXY", ".example", 1), 0);
    TT_EQ_INT(tse_posix_proxy_from_env(NULL, NULL, "tscf.example", &px, &why, &var), 0);
    TT_EQ_INT(tse_posix_proxy_from_env(NULL, NULL, "tscf.example.net", &px, &why, &var), 1);
    TT_EQ_INT(tse_posix_proxy_from_env(NULL, NULL, NULL, &px, &why, &var), -1);
    unsetenv("all_proxy");
    unsetenv("NO_PROXY");
}

/* the settings point into the caller's tse_posix_proxy */
TT_TEST(settings_fill)
{
    tse_posix_proxy px;
    tse_settings s;
    tse_settings_default(&s);
    TT_EQ_INT(tse_posix_parse_proxy_url("http://proxy.lan:3128", &px, NULL), 0);
    TT_EQ_INT(tse_posix_proxy_settings(&px, &s), 0);
    TT_ASSERT(s.proxy_host == px.host && strcmp(s.proxy_host, "proxy.lan") == 0);
    TT_EQ_INT(s.proxy_port, 3128);
    TT_ASSERT(s.proxy_user == NULL && s.proxy_pass == NULL);
    TT_EQ_INT(tse_posix_parse_proxy_url("alice:s3cret@proxy.lan", &px, NULL), 0);
    TT_EQ_INT(tse_posix_proxy_settings(&px, &s), 0);
    TT_EQ_INT(s.proxy_port, TSE_POSIX_PROXY_DEFAULT_PORT);
    TT_ASSERT(s.proxy_user == px.user && strcmp(s.proxy_user, "alice") == 0);
    TT_ASSERT(s.proxy_pass == px.pass && strcmp(s.proxy_pass, "s3cret") == 0);
    TT_EQ_INT(tse_posix_proxy_settings(NULL, &s), -1);
    TT_EQ_INT(tse_posix_proxy_settings(&px, NULL), -1);
}

int main(void)
{
    TT_RUN(hostport_forms);
    TT_RUN(hostport_errors);
    TT_RUN(proxy_url_ok);
    TT_RUN(proxy_url_errors);
    TT_RUN(no_proxy_names);
    TT_RUN(no_proxy_ips);
    TT_RUN(env_lookup);
    TT_RUN(env_getenv);
    TT_RUN(settings_fill);
    return TT_DONE();
}
