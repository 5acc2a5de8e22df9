// rill/rill.hpp: everything rill offers, in one include.
#pragma once

#include <rill/actor.hpp>
#include <rill/chan.hpp>
#include <rill/errors.hpp>
#include <rill/group.hpp>
#include <rill/parallel_map.hpp>
#include <rill/runtime.hpp>
#include <rill/select.hpp>
#include <rill/sync.hpp>
#include <rill/time.hpp>
