/**
 * @file export.h
 * @brief TSE_API: marks the functions of libtse's public API.
 *
 * The shared libraries are compiled with -fvisibility=hidden: only what is
 * declared with TSE_API is exported (and a linker version script,
 * cmake/libtse.map, lists the same names).  In a static build the
 * attribute changes nothing.  Define TSE_API yourself before including
 * any libtse header to override it (e.g. empty, for a compiler without
 * the attribute).
 */
#ifndef TSE_EXPORT_H
#define TSE_EXPORT_H

#ifndef TSE_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define TSE_API __attribute__((visibility("default")))
#else
#define TSE_API
#endif
#endif

#endif /* TSE_EXPORT_H */
