/* tse-cli: JSON string escaping and line building. */
#include <string.h>

#include "json_out.h"
#include "tt.h"

static int esc_is(const char *in, const char *want)
{
    char buf[256];
    size_t n = cli_json_escape(buf, sizeof buf, in);
    return n == strlen(want) && strcmp(buf, want) == 0;
}

TT_TEST(escape_basic)
{
    TT_ASSERT(esc_is("", "\"\""));
    TT_ASSERT(esc_is("TLSv1.3", "\"TLSv1.3\""));
    TT_ASSERT(esc_is("a\"b\\c", "\"a\\\"b\\\\c\""));
    TT_ASSERT(esc_is("l1\nl2\r\t\b\f", "\"l1\\nl2\\r\\t\\b\\f\""));
    TT_ASSERT(esc_is("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\""));
    TT_ASSERT(esc_is("/", "\"/\""));
    TT_ASSERT(esc_is(NULL, "null"));
}

TT_TEST(escape_utf8)
{
    /* valid UTF-8 passes through: é, €, U+1F600 */
    TT_ASSERT(esc_is("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
                     "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""));
    /* invalid: lone continuation, overlong, surrogate, truncated, > U+10FFFF */
    TT_ASSERT(esc_is("\x80", "\"\\ufffd\""));
    TT_ASSERT(esc_is("\xc0\xaf", "\"\\ufffd\\ufffd\""));
    TT_ASSERT(esc_is("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""));
    TT_ASSERT(esc_is("a\xe2\x82", "\"a\\ufffd\\ufffd\""));
    TT_ASSERT(esc_is("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""));
    TT_ASSERT(esc_is("\xff", "\"\\ufffd\""));
}

TT_TEST(escape_truncation)
{
    char buf[8];
    size_t n;
    memset(buf, 'X', sizeof buf);
    n = cli_json_escape(buf, sizeof buf, "abcdefghij");
    TT_EQ_INT(n, 12);
    /* truncated but still a closed literal, NUL-terminated */
    TT_ASSERT(strcmp(buf, "\"abcde\"") == 0);
    /* never cut inside an escape */
    n = cli_json_escape(buf, sizeof buf, "ab\n\ncd");
    TT_EQ_INT(n, 10);
    TT_ASSERT(strcmp(buf, "\"ab\\n\"") == 0);
    n = cli_json_escape(buf, sizeof buf, "\x01");
    TT_EQ_INT(n, 8);
    TT_ASSERT(strcmp(buf, "\"\"") == 0);
    n = cli_json_escape(buf, 1, "abc");
    TT_EQ_INT(n, 5);
    TT_EQ_INT(buf[0], '\0');
}

TT_TEST(line_building)
{
    cli_json j;
    char big[CLI_JSON_MAX + 100];
    cli_json_begin(&j);
    cli_json_str(&j, "event", "tunnel_up");
    cli_json_int(&j, "code", -501);
    cli_json_bool(&j, "via_proxy", 0);
    cli_json_bool(&j, "resumed", 1);
    cli_json_num(&j, "rtt_ms", 0.4249, 2);
    cli_json_str(&j, "detail", "say \"hi\"");
    TT_ASSERT(strcmp(cli_json_end(&j),
        "{\"event\":\"tunnel_up\",\"code\":-501,\"via_proxy\":false,"
        "\"resumed\":true,\"rtt_ms\":0.42,\"detail\":\"say \\\"hi\\\"\"}") == 0);
    TT_EQ_INT(j.overflow, 0);

    cli_json_begin(&j);
    TT_ASSERT(strcmp(cli_json_end(&j), "{}") == 0);

    /* a value too big is dropped whole; the line stays valid */
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cli_json_begin(&j);
    cli_json_str(&j, "event", "error");
    cli_json_str(&j, "reason", big);
    cli_json_int(&j, "n", 1);
    TT_ASSERT(strcmp(cli_json_end(&j), "{\"event\":\"error\",\"n\":1}") == 0);
    TT_EQ_INT(j.overflow, 1);
}

TT_TEST(line_fills_exactly)
{
    cli_json j;
    char v[CLI_JSON_MAX];
    size_t fill;
    int k = 0;
    /* keep adding until something is refused: never overruns, always closes */
    cli_json_begin(&j);
    memset(v, 'b', 100);
    v[100] = '\0';
    while (!j.overflow && k < 100) {
        cli_json_str(&j, "k", v);
        k++;
    }
    fill = strlen(cli_json_end(&j));
    TT_ASSERT(fill < CLI_JSON_MAX);
    TT_EQ_INT(j.buf[fill - 1], '}');
    TT_ASSERT(k > 5);
}

TT_TEST(uint_array)
{
    cli_json j;
    uint64_t v[3] = { 0, 7, 18446744073709551615ull };
    uint64_t many[400];
    cli_json_begin(&j);
    cli_json_uint_array(&j, "cm_out", v, 3);
    cli_json_uint_array(&j, "none", v, 0);
    TT_ASSERT(strcmp(cli_json_end(&j),
        "{\"cm_out\":[0,7,18446744073709551615],\"none\":[]}") == 0);
    TT_EQ_INT(j.overflow, 0);
    /* too long for a line: dropped whole, the line stays valid */
    for (size_t i = 0; i < 400; i++)
        many[i] = 1000000 + i;
    cli_json_begin(&j);
    cli_json_int(&j, "n", 1);
    cli_json_uint_array(&j, "many", many, 400);
    TT_ASSERT(strcmp(cli_json_end(&j), "{\"n\":1}") == 0);
    TT_EQ_INT(j.overflow, 1);
}

int main(void)
{
    TT_RUN(escape_basic);
    TT_RUN(escape_utf8);
    TT_RUN(escape_truncation);
    TT_RUN(line_building);
    TT_RUN(line_fills_exactly);
    TT_RUN(uint_array);
    return TT_DONE();
}
