/*
 * A stand-in for libflux, the Rust core of the Flux language, so that
 * InfluxDB 2.x's influxd can be built without Rust crates (the test
 * machines cannot fetch them). It implements the C interface declared in
 * influxdata/flux.h (flux module, libflux/include) that the Go package
 * github.com/influxdata/flux/libflux/go/libflux calls:
 *
 *   - the standard library's type environment and semantic packages are
 *     valid, empty flatbuffer tables (Go parses them at start-up);
 *   - parsing, formatting and analysing Flux fail with "Flux is not
 *     available in this build", so a Flux query gets that error.
 *
 * Everything else of influxd (the write API, InfluxQL, setup, tokens,
 * orgs, buckets) does not go through libflux. Written for Satellite's
 * exporter tests; see scripts/testservers.sh and README.md next to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "influxdata/flux.h"

static const char unavailable[] = "Flux is not available in this build "
	"(influxd for Satellite's tests, built without libflux); use InfluxQL";

struct flux_error_t {
	char *msg;
};

/* Opaque handles: only allocated and freed here. */
struct flux_ast_pkg_t {
	int unused;
};
struct flux_semantic_pkg_t {
	int unused;
};
struct flux_stateful_analyzer_t {
	int unused;
};

static struct flux_error_t *new_error(void)
{
	struct flux_error_t *e = malloc(sizeof *e);
	if (e == NULL)
		abort();
	e->msg = strdup(unavailable);
	if (e->msg == NULL)
		abort();
	return e;
}

/*
 * An empty flatbuffer table as a root: the root offset (4 bytes, to the
 * table at 8), a vtable of 4 bytes (its own size 4, the table's size 4:
 * no fields) and the table (a signed offset back to the vtable: 8 - 4).
 * Read as a PackageList or a TypeEnvironment its vector has length 0.
 */
static void empty_table(struct flux_buffer_t *buf)
{
	static const unsigned char fb[12] = {
		8, 0, 0, 0, /* uoffset of the root table */
		4, 0,       /* vtable: size in bytes */
		4, 0,       /* vtable: inline size of the table */
		4, 0, 0, 0, /* table: soffset to its vtable */
	};
	buf->data = malloc(sizeof fb);
	if (buf->data == NULL)
		abort();
	memcpy(buf->data, fb, sizeof fb);
	buf->len = sizeof fb;
}

void flux_semantic_packages(struct flux_buffer_t *buf) { empty_table(buf); }

void flux_get_env_stdlib(struct flux_buffer_t *buf) { empty_table(buf); }

void flux_free_error(struct flux_error_t *e)
{
	if (e == NULL)
		return;
	free(e->msg);
	free(e);
}

const char *flux_error_str(struct flux_error_t *e)
{
	return e == NULL ? "" : e->msg;
}

void flux_error_print(struct flux_error_t *e)
{
	printf("%s\n", flux_error_str(e));
}

void flux_free_bytes(const char *p) { free((void *)p); }

struct flux_ast_pkg_t *flux_parse(const char *file_name, const char *flux_source)
{
	(void)file_name;
	(void)flux_source;
	struct flux_ast_pkg_t *p = calloc(1, sizeof *p);
	if (p == NULL)
		abort();
	return p; /* flux_ast_get_error reports that it holds nothing */
}

struct flux_error_t *flux_ast_format(struct flux_ast_pkg_t *p, struct flux_buffer_t *buf)
{
	(void)p;
	buf->data = NULL;
	buf->len = 0;
	return new_error();
}

struct flux_error_t *flux_ast_get_error(struct flux_ast_pkg_t *p, const char *options)
{
	(void)p;
	(void)options;
	return new_error();
}

void flux_free_ast_pkg(struct flux_ast_pkg_t *p) { free(p); }

struct flux_error_t *flux_merge_ast_pkgs(struct flux_ast_pkg_t *out, struct flux_ast_pkg_t *in)
{
	(void)out;
	(void)in;
	return new_error();
}

struct flux_error_t *flux_parse_json(const char *json, struct flux_ast_pkg_t **out)
{
	(void)json;
	*out = NULL;
	return new_error();
}

struct flux_error_t *flux_ast_marshal_json(struct flux_ast_pkg_t *p, struct flux_buffer_t *buf)
{
	(void)p;
	buf->data = NULL;
	buf->len = 0;
	return new_error();
}

struct flux_stateful_analyzer_t *flux_new_stateful_analyzer(const char *options)
{
	(void)options;
	struct flux_stateful_analyzer_t *a = calloc(1, sizeof *a);
	if (a == NULL)
		abort();
	return a;
}

void flux_free_stateful_analyzer(struct flux_stateful_analyzer_t *a) { free(a); }

/* Both analysers consume the AST package (the Go side forgets it). */
struct flux_error_t *flux_analyze_with(struct flux_stateful_analyzer_t *a, const char *src,
				       struct flux_ast_pkg_t *p, struct flux_semantic_pkg_t **out)
{
	(void)a;
	(void)src;
	free(p);
	*out = NULL;
	return new_error();
}

struct flux_error_t *flux_analyze(struct flux_ast_pkg_t *p, const char *options,
				  struct flux_semantic_pkg_t **out)
{
	(void)options;
	free(p);
	*out = NULL;
	return new_error();
}

struct flux_error_t *flux_find_var_type(struct flux_semantic_pkg_t *p, const char *name,
					struct flux_buffer_t *buf)
{
	(void)p;
	(void)name;
	buf->data = NULL;
	buf->len = 0;
	return new_error();
}

void flux_free_semantic_pkg(struct flux_semantic_pkg_t *p) { free(p); }

struct flux_error_t *flux_semantic_marshal_fb(struct flux_semantic_pkg_t *p, struct flux_buffer_t *buf)
{
	(void)p;
	buf->data = NULL;
	buf->len = 0;
	return new_error();
}
