/*
 * Real program: SQLite, from the amalgamation (sqlite3.c) that the
 * better-sqlite3 npm package ships; bench/run.mjs fetches it at bench time.
 *
 *   sqlite.js SCALE
 *
 * Builds an in-memory database of 1,200 x SCALE orders (text columns of
 * 0-300 bytes) for SCALE x 120 customers, indexes it, runs joins, grouped
 * aggregates, a sort over every row, an UPDATE that grows rows, DELETEs,
 * VACUUM and an integrity check, then closes it.  The checksum hashes every
 * row every query returned.  Temporary storage is memory (SQLITE_TEMP_STORE=3
 * at compile time), so sorts and VACUUM use the wasm heap, not a file system.
 */
#include "program.h"
#include "sqlite3.h"

static sqlite3 *db;
static uint64_t rows_seen;

static void check_rc(int rc, const char *what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    fail(what, sqlite3_errmsg(db));
}

/* Runs sql, folding every row of every statement into the result hash. */
static void query(const char *sql) {
  const char *tail = sql;
  while (*tail) {
    sqlite3_stmt *st = 0;
    check_rc(sqlite3_prepare_v2(db, tail, -1, &st, &tail), sql);
    if (!st)
      break; /* trailing whitespace */
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      rows_seen++;
      for (int c = 0, n = sqlite3_column_count(st); c < n; c++) {
        const unsigned char *t = sqlite3_column_text(st, c);
        hash_text(t ? (const char *)t : "<null>");
      }
      hash_bytes("\n", 1);
    }
    check_rc(rc, sql);
    check_rc(sqlite3_finalize(st), sql);
  }
}

/* The first column of the first row of sql, as text (for the self-checks). */
static void expect(const char *sql, const char *want) {
  sqlite3_stmt *st = 0;
  check_rc(sqlite3_prepare_v2(db, sql, -1, &st, 0), sql);
  if (sqlite3_step(st) != SQLITE_ROW)
    fail("no row from", sql);
  const char *got = (const char *)sqlite3_column_text(st, 0);
  if (!got || strcmp(got, want))
    fail(sql, got ? got : "<null>");
  check_rc(sqlite3_finalize(st), sql);
}

/* A seeded RNG, so every allocator sees the same data. */
static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

/* n random lowercase letters with a space every few, NUL-terminated. */
static void words(char *out, int n) {
  for (int i = 0; i < n; i++)
    out[i] = rnd() % 6 == 0 ? ' ' : (char)('a' + rnd() % 26);
  out[n] = 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s) {
  check_rc(sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT), "bind");
}

int main(int argc, char **argv) {
  long scale = program_scale(argc, argv);
  long orders = 1200 * scale, customers = 120 * scale;
  char text[512];
  double t0 = emscripten_get_now();
  check_rc(sqlite3_open(":memory:", &db), "open");
  query("CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL);"
        "CREATE TABLE item(id INTEGER PRIMARY KEY, title TEXT NOT NULL, price REAL NOT NULL);"
        "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER NOT NULL, item INTEGER NOT "
        "NULL,"
        "  qty INTEGER NOT NULL, note TEXT);");

  sqlite3_stmt *st;
  query("BEGIN");
  check_rc(sqlite3_prepare_v2(db, "INSERT INTO customer(name, city) VALUES (?1, ?2)", -1, &st, 0),
           "prepare customer");
  for (long i = 0; i < customers; i++) {
    char city[16];
    words(text, 5 + rnd() % 20);
    snprintf(city, sizeof city, "city-%02u", rnd() % 40);
    bind_text(st, 1, text);
    bind_text(st, 2, city);
    check_rc(sqlite3_step(st), "insert customer");
    check_rc(sqlite3_reset(st), "reset");
  }
  sqlite3_finalize(st);
  check_rc(sqlite3_prepare_v2(db, "INSERT INTO item(title, price) VALUES (?1, ?2)", -1, &st, 0),
           "prepare item");
  for (int i = 0; i < 500; i++) {
    words(text, 8 + rnd() % 40);
    bind_text(st, 1, text);
    check_rc(sqlite3_bind_double(st, 2, (rnd() % 100000) / 100.0), "bind");
    check_rc(sqlite3_step(st), "insert item");
    check_rc(sqlite3_reset(st), "reset");
  }
  sqlite3_finalize(st);
  query("COMMIT");

  /* Orders in transactions of 1,000 rows, as an application would. */
  check_rc(
      sqlite3_prepare_v2(
          db, "INSERT INTO orders(customer, item, qty, note) VALUES (?1, ?2, ?3, ?4)", -1, &st, 0),
      "prepare orders");
  for (long i = 0; i < orders; i++) {
    if (i % 1000 == 0)
      query("BEGIN");
    check_rc(sqlite3_bind_int64(st, 1, 1 + rnd() % customers), "bind");
    check_rc(sqlite3_bind_int(st, 2, 1 + rnd() % 500), "bind");
    check_rc(sqlite3_bind_int(st, 3, 1 + rnd() % 20), "bind");
    if (rnd() % 4) {
      words(text, rnd() % 301);
      bind_text(st, 4, text);
    } else {
      check_rc(sqlite3_bind_null(st, 4), "bind");
    }
    check_rc(sqlite3_step(st), "insert order");
    check_rc(sqlite3_reset(st), "reset");
    if (i % 1000 == 999 || i == orders - 1)
      query("COMMIT");
  }
  sqlite3_finalize(st);

  query("CREATE INDEX orders_customer ON orders(customer);"
        "CREATE INDEX orders_item_qty ON orders(item, qty);"
        "CREATE INDEX customer_city ON customer(city, name);");

  /* Joins and grouped aggregates. */
  query("SELECT c.city, count(*), sum(o.qty), printf('%.2f', sum(o.qty * i.price))"
        "  FROM orders o JOIN customer c ON c.id = o.customer JOIN item i ON i.id = o.item"
        "  GROUP BY c.city ORDER BY c.city");
  query("SELECT i.title, count(*), sum(o.qty) FROM orders o JOIN item i ON i.id = o.item"
        "  GROUP BY o.item ORDER BY 3 DESC, o.item LIMIT 25");
  query("SELECT c.name, t.n, t.q FROM customer c"
        "  JOIN (SELECT customer, count(*) AS n, sum(qty) AS q FROM orders GROUP BY customer) t ON "
        "t.customer = c.id"
        "  ORDER BY t.n DESC, t.q DESC, c.id LIMIT 25");
  query("SELECT city, count(*), group_concat(substr(name, 1, 2), '') FROM customer"
        "  WHERE id % 13 = 0 GROUP BY city ORDER BY city");
  /* A sort over every row's text (the sorter's memory), and a window. */
  query(
      "SELECT id, length(note) FROM orders WHERE note IS NOT NULL ORDER BY note DESC, id LIMIT 20");
  query("SELECT customer, qty, sum(qty) OVER (PARTITION BY customer ORDER BY id ROWS 3 PRECEDING)"
        "  FROM orders WHERE customer % 50 = 1 ORDER BY customer, id");

  /* Updates that grow rows, deletes, then VACUUM rebuilds the database. */
  query(
      "UPDATE orders SET note = coalesce(note, '') || printf(' #%d/%d', id, qty) WHERE id % 5 = 0");
  query("DELETE FROM orders WHERE qty <= 6");
  query("DELETE FROM customer WHERE id NOT IN (SELECT customer FROM orders)");
  query("SELECT changes(), total_changes()");
  query("VACUUM");
  expect("PRAGMA integrity_check", "ok");
  query("SELECT count(*), sum(qty), sum(length(note)), count(DISTINCT customer) FROM orders");
  query("SELECT count(*), min(name), max(name) FROM customer");

  check_rc(sqlite3_close(db), "close");
  double ms = emscripten_get_now() - t0;
  if (sqlite3_memory_used() != 0)
    fail("SQLite still holds memory after close", 0);
  report("sqlite", ms, rows_seen, (uint64_t)sqlite3_memory_highwater(0));
  return 0;
}
