// The OTLP requests captured from the official OpenTelemetry JS exporters
// (tests/fixtures/otlp-js-0.223/README.md), for every unit test that reads them. Tests run from the
// repository root (tests/run.sh); LR_FIXTURES points elsewhere when set.
#ifndef LINERATE_TEST_FIXTURES_H
#define LINERATE_TEST_FIXTURES_H

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

inline std::string lr_fixture_dir()
{
    const char *e = std::getenv("LR_FIXTURES");
    return e && *e ? e : "tests/fixtures/otlp-js-0.223";
}

// The bytes of fixture `name`, or "" when it cannot be read (callers assert on that).
inline std::string lr_fixture(const std::string &name)
{
    std::ifstream f(lr_fixture_dir() + "/" + name, std::ios::binary);
    if (!f)
        return "";
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

#endif
