/* gluetool.h: the one header to include
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#define __GLUETOOL_H_INSIDE__

#include <gluetool/gluetool-version.h>
#include <gluetool/gluetool-span-context.h>
#include <gluetool/gluetool-tracer-stats.h>
#include <gluetool/gluetool-tracer.h>
#include <gluetool/gluetool-action.h>
#include <gluetool/gluetool-enum-types.h>

#undef __GLUETOOL_H_INSIDE__
