/* tse_version(), tse_version_number(): the version this library was built
 * as (tse/version.h, generated from project(VERSION)). */
#include "tse/tse.h"

const char *tse_version(void)
{
    return TSE_VERSION_STRING;
}

unsigned long tse_version_number(void)
{
    return TSE_VERSION_NUMBER;
}
