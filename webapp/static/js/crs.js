/*
 * Yizhan coordinate conversions in the browser: WGS-84 <-> GCJ-02, the same as geo/crs.py.
 *
 * Used when the Amap (GCJ-02) basemap is active: every overlay is drawn at its GCJ-02
 * position and map clicks are converted back to WGS-84 before querying the API.
 *   - WGS-84 -> GCJ-02: the published closed formula (Krasovsky 1940, a = 6378245.0,
 *     ee = 0.00669342162296594323).
 *   - GCJ-02 -> WGS-84: fixed-point iteration on the forward formula until a step is below
 *     2e-8 deg (at most 10 steps), exact to about 0.01 mm like geo.crs.gcj02_to_wgs84.
 *   - "Where the offsets apply": the same simplified outline of China as geo/crs.py
 *     (_CHINA_OUTLINE, 12 rings; China without Taiwan, with Hong Kong and Macau, widened by
 *     about 25 km); a point outside it is returned unchanged. tests/test_public.py checks that
 *     the outline below is the same text as geo/crs.py's.
 * All functions take and return [lon, lat] in degrees. No dependencies; exposes window.YizhanCRS.
 */
(function (root) {
  'use strict';

  var A = 6378245.0;
  var EE = 0.00669342162296594323;
  var STEP_TOL_DEG = 2e-8;
  var MAX_ITER = 10;

  // geo/crs.py _CHINA_OUTLINE, verbatim (whitespace collapsed): "lon,lat lon,lat ... ; ..."
  var OUTLINE =
    '73.83,40.25 74.34,40.40 74.74,40.75 75.10,40.71 75.57,40.91 76.16,40.65 76.86,41.29 ' +
    '77.57,41.28 79.86,42.30 79.93,42.72 80.39,43.53 80.08,44.46 79.67,44.80 79.77,45.13 ' +
    '81.96,45.66 82.95,47.45 84.03,47.23 85.20,47.30 85.35,47.46 85.30,48.15 85.51,48.49 ' +
    '86.39,48.78 86.55,49.16 86.86,49.38 87.89,49.41 88.36,48.75 88.90,48.38 90.16,48.11 ' +
    '90.53,47.85 91.28,46.81 91.27,46.00 91.11,45.62 91.23,45.44 93.53,45.21 94.94,44.54 ' +
    '95.53,44.52 96.13,43.40 96.61,43.02 99.46,42.82 100.92,42.91 101.85,42.75 102.27,42.44 ' +
    '103.50,42.12 104.60,42.11 104.92,41.90 107.37,42.69 109.32,42.69 110.22,42.96 ' +
    '111.35,43.77 111.18,44.45 111.78,45.27 112.51,45.30 112.84,45.10 113.57,45.02 ' +
    '114.49,45.63 115.64,45.73 116.55,46.55 117.39,46.83 118.88,47.04 118.95,47.40 ' +
    '118.33,47.76 117.92,47.76 117.41,47.39 116.77,47.64 115.89,47.44 115.39,47.76 ' +
    '115.30,48.23 116.60,50.07 117.73,49.82 118.83,50.30 120.10,52.02 120.11,52.22 ' +
    '119.81,52.54 119.84,52.94 120.78,53.51 123.54,53.80 125.75,53.28 126.27,52.95 ' +
    '126.77,52.25 127.24,51.18 127.82,50.34 127.93,49.88 129.54,49.67 130.22,49.17 ' +
    '130.83,49.07 131.21,48.01 132.12,47.96 133.02,48.36 134.50,48.67 135.19,48.67 ' +
    '135.34,48.41 135.01,48.02 134.98,47.58 134.50,47.13 134.12,46.15 133.30,44.95 ' +
    '132.95,44.77 131.94,44.98 131.50,44.68 131.55,43.35 131.35,42.80 130.93,42.53 ' +
    '130.77,42.21 129.99,42.36 129.02,41.79 128.70,41.75 128.40,41.26 128.14,41.12 ' +
    '126.87,41.32 126.17,40.71 124.77,40.06 124.27,39.54 123.53,39.50 123.25,38.80 ' +
    '122.28,38.89 121.20,38.42 121.12,38.10 121.31,37.89 121.68,37.72 122.10,37.80 ' +
    '122.77,37.65 122.94,37.42 122.64,36.69 121.25,36.43 120.48,35.79 120.14,35.39 ' +
    '120.09,34.80 120.48,34.43 121.24,32.80 122.09,32.01 122.41,31.20 123.05,30.82 ' +
    '123.02,30.05 122.47,29.48 122.47,28.76 122.05,28.24 121.49,27.91 121.30,27.29 ' +
    '120.68,27.02 120.58,26.72 120.75,26.30 120.27,26.02 120.05,25.31 119.62,24.93 ' +
    '119.29,24.86 116.65,22.75 114.73,22.30 114.49,21.88 114.04,21.60 113.49,21.72 ' +
    '112.87,21.34 112.21,21.44 110.96,21.12 110.79,20.40 111.42,20.18 111.50,19.88 ' +
    '110.89,19.20 110.60,18.50 109.62,17.93 108.60,18.27 108.38,18.80 108.43,19.43 ' +
    '109.12,20.10 109.50,20.25 109.48,20.66 108.91,20.87 108.64,21.32 107.31,21.36 ' +
    '106.57,21.76 106.13,22.67 105.22,22.93 104.02,22.26 102.53,22.32 102.03,22.01 ' +
    '102.06,21.13 101.76,20.90 101.15,20.98 100.82,21.25 100.08,21.26 99.64,21.79 99.01,21.96 ' +
    '98.91,22.19 99.05,22.76 98.69,23.04 98.41,23.76 98.22,23.84 97.62,23.60 97.31,23.82 ' +
    '97.33,24.85 97.65,25.42 98.28,25.95 98.50,26.53 98.43,27.17 97.81,27.80 97.09,27.49 ' +
    '95.77,28.00 94.31,27.28 94.00,26.86 93.69,26.72 92.16,26.61 91.90,26.72 91.72,27.18 ' +
    '91.24,27.57 89.82,27.93 89.46,27.62 89.34,27.17 88.90,26.98 88.42,27.62 87.18,27.57 ' +
    '86.74,27.76 85.95,27.67 85.58,28.00 84.99,28.13 83.91,28.91 83.40,29.00 81.84,30.08 ' +
    '81.10,29.77 79.68,30.66 78.98,30.78 78.54,31.24 78.19,32.12 78.18,32.66 78.70,33.13 ' +
    '78.45,33.59 78.38,34.27 78.08,34.47 77.74,35.17 76.02,35.62 75.73,35.94 75.62,36.40 ' +
    '74.35,36.87 74.22,37.17 74.62,37.61 74.55,38.17 74.36,38.35 73.69,38.38 73.28,39.49 ; ' +
    '111.37,8.11 111.18,8.45 111.38,8.96 111.26,9.44 111.68,9.63 112.11,9.55 113.30,9.96 ' +
    '113.42,10.36 113.83,10.63 113.82,10.98 114.27,11.69 114.83,11.72 115.46,10.96 ' +
    '115.90,11.15 116.94,11.18 117.11,11.40 117.79,11.30 118.06,10.98 118.08,10.69 ' +
    '117.70,10.33 117.58,9.94 117.19,9.75 117.17,9.39 116.84,8.85 116.28,8.60 116.12,8.25 ' +
    '115.75,8.14 115.05,7.00 114.72,6.95 114.38,7.37 114.10,7.31 113.54,6.55 113.44,6.14 ' +
    '112.87,6.01 112.90,5.43 113.19,5.11 113.07,4.79 112.37,4.72 112.09,5.70 112.36,6.19 ' +
    '112.85,6.20 113.33,6.69 113.59,7.31 113.49,7.68 113.25,7.79 112.95,7.62 112.71,7.69 ' +
    '112.60,7.96 112.74,8.31 112.49,8.48 112.27,8.31 112.31,8.05 111.62,7.31 111.28,7.40 ; ' +
    '111.27,16.14 111.34,16.74 111.21,17.10 111.41,17.34 113.11,16.95 112.81,15.95 ' +
    '112.38,15.50 112.08,15.50 111.66,15.83 111.14,15.54 110.95,15.80 ; 113.52,15.77 ' +
    '114.03,16.23 114.87,16.46 115.16,16.16 114.88,15.51 114.31,15.19 113.80,15.23 ' +
    '113.50,15.48 ; 109.20,7.57 109.83,8.19 110.45,8.46 110.80,8.30 110.84,7.97 110.55,7.57 ' +
    '110.18,7.53 109.42,7.08 109.14,7.25 ; 115.81,21.32 116.08,21.35 116.42,20.97 ' +
    '117.03,20.95 117.13,20.49 116.74,20.32 116.34,20.69 115.80,20.71 115.66,21.05 ; ' +
    '112.76,19.63 113.04,19.78 113.46,19.39 114.06,19.42 114.15,19.10 113.72,18.94 ' +
    '113.44,19.31 112.97,19.23 112.76,19.37 ; 112.54,4.02 112.48,3.73 111.86,3.65 111.84,4.03 ' +
    '112.35,4.26 ; 117.46,15.23 117.62,15.45 118.04,15.30 117.96,14.89 117.53,14.95 ; ' +
    '116.83,16.60 116.95,16.19 116.65,16.06 116.45,16.41 ; 115.52,14.20 115.65,13.84 ' +
    '115.24,13.73 115.17,14.11 ; 116.58,11.95 116.88,12.16 117.07,11.87 116.98,11.64 ; ';

  var RINGS = OUTLINE.split(';').map(function (ring) {
    return ring.trim().split(/\s+/).filter(Boolean).map(function (pair) {
      var xy = pair.split(',');
      return [parseFloat(xy[0]), parseFloat(xy[1])];
    });
  }).filter(function (ring) { return ring.length >= 3; });

  var BOXES = RINGS.map(function (ring) {
    var b = [Infinity, Infinity, -Infinity, -Infinity];
    ring.forEach(function (p) {
      b[0] = Math.min(b[0], p[0]); b[1] = Math.min(b[1], p[1]);
      b[2] = Math.max(b[2], p[0]); b[3] = Math.max(b[3], p[1]);
    });
    return b;
  });

  /** Even-odd ray casting: is (x, y) inside the ring? */
  function inRing(ring, x, y) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if (((yi > y) !== (yj > y)) && (x < (xj - xi) * (y - yi) / (yj - yi) + xi)) {
        inside = !inside;
      }
    }
    return inside;
  }

  /** Whether the Chinese offsets apply at (lon, lat): inside the simplified outline. */
  function inChina(lon, lat) {
    if (!isFinite(lon) || !isFinite(lat)) { return false; }
    for (var k = 0; k < RINGS.length; k++) {
      var b = BOXES[k];
      if (lon >= b[0] && lon <= b[2] && lat >= b[1] && lat <= b[3] && inRing(RINGS[k], lon, lat)) {
        return true;
      }
    }
    return false;
  }

  /** GCJ-02 offset [dlon, dlat] (degrees) at a WGS-84 position: the published formula. */
  function offset(lon, lat) {
    var x = lon - 105.0;
    var y = lat - 35.0;
    var PI = Math.PI;
    var root = Math.sqrt(Math.abs(x));
    var common = (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    var dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * root + common;
    dlat += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
    dlat += (160.0 * Math.sin(y / 12.0 * PI) + 320.0 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    var dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * root + common;
    dlon += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
    dlon += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    var radlat = lat / 180.0 * PI;
    var magic = 1 - EE * Math.sin(radlat) * Math.sin(radlat);
    var sqrtmagic = Math.sqrt(magic);
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrtmagic) * PI);
    dlon = (dlon * 180.0) / (A / sqrtmagic * Math.cos(radlat) * PI);
    return [dlon, dlat];
  }

  function forward(lon, lat) {
    var d = offset(lon, lat);
    return [lon + d[0], lat + d[1]];
  }

  /** WGS-84 -> GCJ-02 ([lon, lat]); unchanged outside China (tested on the input). */
  function wgs84ToGcj02(lon, lat) {
    if (!inChina(lon, lat)) { return [lon, lat]; }
    return forward(lon, lat);
  }

  /** GCJ-02 -> WGS-84 ([lon, lat]) by iterating the forward formula; unchanged outside China. */
  function gcj02ToWgs84(lon, lat) {
    if (!inChina(lon, lat)) { return [lon, lat]; }
    var d = offset(lon, lat);
    var x = lon - d[0], y = lat - d[1];
    for (var i = 0; i < MAX_ITER; i++) {
      var f = forward(x, y);
      var dx = f[0] - lon, dy = f[1] - lat;
      x -= dx; y -= dy;
      if (Math.max(Math.abs(dx), Math.abs(dy)) < STEP_TOL_DEG) { break; }
    }
    return [x, y];
  }

  root.YizhanCRS = {
    inChina: inChina,
    wgs84ToGcj02: wgs84ToGcj02,
    gcj02ToWgs84: gcj02ToWgs84,
    outline: OUTLINE
  };
}(window));
