/*
 * Yizhan registry workspace: the base of every /manage/ map (station form, review item, change,
 * upload preview), one copy for the four: the first configured basemap with tiles (only WGS-84
 * ones where a draggable pin is read back as WGS-84), else the bundled county outlines; and the
 * display position of a WGS-84 point on that base (GCJ-02 tiles take GCJ-02 positions).
 * Scripts, in order: leaflet, crs.js (for GCJ-02 basemaps), this file, the page's script. Exposes
 * window.Yizhan.manageMap = { choose, draw }.
 */
(function (Y) {
  'use strict';

  var CRS = window.YizhanCRS || {
    wgs84ToGcj02: function (lon, lat) { return [lon, lat]; }
  };
  var OUTLINE_STYLE = { color: '#8a8f98', weight: 1, opacity: 0.9, fillColor: '#fbfaf6',
    fillOpacity: 1 };

  /* The base for cfg.basemaps: { def, maxZoom, disp(lon, lat) -> [lat, lng] }.
     opts.wgs84Only: skip GCJ-02 basemaps; opts.offlineMaxZoom: the zoom limit on outlines. */
  function choose(cfg, opts) {
    opts = opts || {};
    var defs = (Array.isArray(cfg.basemaps) ? cfg.basemaps : []).filter(function (d) {
      return !opts.wgs84Only || d.crs !== 'gcj02';
    });
    var d = defs[0] || { id: 'offline', crs: 'wgs84', url: '' };
    var gcj = d.crs === 'gcj02';
    return {
      def: d,
      maxZoom: d.url ? (d.max_zoom || 18) : (opts.offlineMaxZoom || 18),
      disp: function (lon, lat) {
        if (gcj) { var g = CRS.wgs84ToGcj02(lon, lat); return [g[1], g[0]]; }
        return [lat, lon];
      }
    };
  }

  /* Draw base (from choose) on map; el gets data-basemap, and data-outlines once loaded. */
  function draw(map, el, cfg, base) {
    var d = base.def;
    el.setAttribute('data-basemap', d.id || 'offline');
    if (d.url) {
      L.tileLayer(d.url, { attribution: d.attribution || '', subdomains: d.subdomains || 'abc',
        maxZoom: base.maxZoom }).addTo(map);
      return;
    }
    if (!cfg.outlinesUrl) { return; }
    fetch(cfg.outlinesUrl, { credentials: 'same-origin' }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (fc) {
      if (!fc) { return; }
      L.geoJSON(fc, {
        interactive: false,
        coordsToLatLng: function (c) { return L.latLng(base.disp(c[0], c[1])); },
        style: function () { return OUTLINE_STYLE; }
      }).addTo(map).bringToBack();
      el.setAttribute('data-outlines', String((fc.features || []).length));
    }).catch(function () { /* the markers still show */ });
  }

  Y.manageMap = { choose: choose, draw: draw };
}(window.Yizhan = window.Yizhan || {}));
