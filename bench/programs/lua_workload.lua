-- The Lua program that bench/programs/lua.c runs: called with the scale
-- (a positive integer), it returns its output as one string, which the
-- driver hashes.  Two phases, both allocation-heavy:
--   1. binary-trees from the Computer Language Benchmarks Game (Mike Pall's
--      Lua version): many short-lived 1- and 3-slot tables, one long-lived
--      tree, the garbage collector freeing in bulk;
--   2. text: build words from syllables, count them in a table keyed by
--      string, sort, format and concatenate (strings of many sizes, table
--      resizes, string buffers).
local scale = ...
assert(type(scale) == "number" and scale >= 1 and scale % 1 == 0, "scale must be a positive integer")

local out = {}
local function say(fmt, ...) out[#out + 1] = string.format(fmt, ...) end

-- Phase 1: binary-trees.  Depth grows with log2(scale): scale 1 -> 8, 50 -> 13.
local function BottomUpTree(item, depth)
  if depth > 0 then
    local i = item + item
    depth = depth - 1
    local left, right = BottomUpTree(i - 1, depth), BottomUpTree(i, depth)
    return { item, left, right }
  else
    return { item }
  end
end

local function ItemCheck(tree)
  if tree[2] then
    return tree[1] + ItemCheck(tree[2]) - ItemCheck(tree[3])
  else
    return tree[1]
  end
end

local mindepth = 4
local log2scale = 0
while 2 ^ (log2scale + 1) <= scale do log2scale = log2scale + 1 end
local maxdepth = 8 + log2scale

do
  local stretchdepth = maxdepth + 1
  say("stretch tree of depth %d\t check: %d", stretchdepth, ItemCheck(BottomUpTree(0, stretchdepth)))
end

local longlivedtree = BottomUpTree(0, maxdepth)

for depth = mindepth, maxdepth, 2 do
  local iterations = 2 ^ (maxdepth - depth + mindepth)
  local check = 0
  for i = 1, iterations do
    check = check + ItemCheck(BottomUpTree(1, depth)) + ItemCheck(BottomUpTree(-1, depth))
  end
  say("%d\t trees of depth %d\t check: %d", iterations * 2, depth, check)
end

say("long lived tree of depth %d\t check: %d", maxdepth, ItemCheck(longlivedtree))

-- Phase 2: text.  A Park-Miller generator (exact in doubles) picks syllables.
local seed = 42
local function rand(n)
  seed = (seed * 16807) % 2147483647
  return seed % n
end

local syllables = { "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "qua", "bre", "str", "ion", "ent", "al" }
local words, counts, order = {}, {}, {}
local nwords = 4000 * scale
for i = 1, nwords do
  local parts = {}
  for j = 1, 1 + rand(4) do parts[j] = syllables[1 + rand(#syllables)] end
  local w = table.concat(parts)
  words[#words + 1] = w
  local c = counts[w]
  if c then
    counts[w] = c + 1
  else
    counts[w] = 1
    order[#order + 1] = w
  end
  -- Keep a sliding window of text, as a log or an editor buffer would.
  if #words > 5000 then words = { table.concat(words, " ", #words - 999) } end
end

table.sort(order, function(a, b)
  local ca, cb = counts[a], counts[b]
  if ca ~= cb then return ca > cb end
  return a < b
end)
say("distinct words: %d of %d", #order, nwords)
for i = 1, 20 do say("%s=%d", order[i], counts[order[i]]) end

-- Rewrite the rarest words, then measure the text that remains.
local rare = {}
for i = #order, math.max(1, #order - 200), -1 do rare[#rare + 1] = order[i]:upper():rep(3, "-") end
local text = table.concat(rare, "\n")
local vowels = select(2, text:gsub("[AEIOU]", "%0"))
say("rare text: %d bytes, %d vowels, %d lines", #text, vowels, select(2, text:gsub("\n", "\n")) + 1)

return table.concat(out, "\n") .. "\n"
