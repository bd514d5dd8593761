/*
 * Yizhan registry workspace: one station's position on a map (/manage/stations/<id>, issue 15
 * item 2).
 *
 * No inline scripts (CSP script-src 'self'): configuration comes from the JSON block
 * #ms-config, texts included (webapp/planner_text.py manage.stations.*). The form works
 * without this script (typed coordinates); with it:
 *   - a draggable pin (mouse or touch; a tap on the map moves it too) writes its WGS-84
 *     position into the lon/lat fields and sets the system to WGS-84;
 *   - "use my position" (navigator.geolocation, WGS-84) for a worker standing at the station;
 *   - address search through the public geocode API (/api/geocode, WGS-84 answers);
 *   - typed coordinates in WGS-84 / GCJ-02 / BD-09 move the pin; the position is shown in all
 *     three systems. Every conversion is the server's (/manage/convert, geo.crs): no
 *     formulas here.
 * Scripts, in order: leaflet, i18n.js, common.js, manage/base.js (the map's base), this file.
 */
(function (Y) {
  'use strict';

  var C = Y.common;
  var cfg = C.readConfig('ms-config');
  var el = document.getElementById('ms-map');
  if (!el || !window.L) { return; }
  var text = cfg.text || {};
  var lonInput = document.getElementById('ms-f-lon');
  var latInput = document.getElementById('ms-f-lat');
  var crsInput = document.getElementById('ms-f-crs');
  var precision = document.getElementById('ms-f-precision');
  var status = document.getElementById('ms-tool-status');

  function say(message) { if (status) { status.textContent = message || ''; } }

  var map = L.map(el, { zoomControl: true });
  map.attributionControl.setPrefix(false);
  if (cfg.attributionHtml) { map.attributionControl.addAttribution(cfg.attributionHtml); }
  if (text.demo) { map.attributionControl.addAttribution(C.escapeAttr(text.demo)); }

  /* The base: the first WGS-84 basemap with tiles, else the county outlines (base.js). */
  Y.manageMap.draw(map, el, cfg, Y.manageMap.choose(cfg, { wgs84Only: true }));

  var pin = L.marker([0, 0], {
    draggable: !!cfg.editable,
    keyboard: true,
    title: text.pin || '',
    icon: L.divIcon({ className: 'ms-pin', iconSize: [26, 26], iconAnchor: [13, 26] })
  });

  function fixed(v) { return (Math.round(v * 1e7) / 1e7).toFixed(7).replace(/0+$/, '').replace(/\.$/, ''); }

  function showSystems(positions) {
    var rows = document.querySelectorAll('#ms-systems tr[data-crs]');
    for (var i = 0; i < rows.length; i++) {
      var p = positions && positions[rows[i].getAttribute('data-crs')];
      var cell = rows[i].querySelector('.ms-sys-value');
      if (cell) { cell.textContent = p ? p[0].toFixed(6) + ', ' + p[1].toFixed(6) : '—'; }
    }
  }

  function placePin(lat, lon, zoom) {
    pin.setLatLng([lat, lon]);
    if (!map.hasLayer(pin)) { pin.addTo(map); }
    el.setAttribute('data-pin', fixed(lon) + ',' + fixed(lat));
    if (zoom) { map.setView([lat, lon], zoom); } else { map.panTo([lat, lon]); }
  }

  /* The typed position (any system) through the server: all three systems, pin in WGS-84. */
  var pending = 0;
  function refresh(movePin, zoom) {
    var lon = parseFloat(lonInput.value), lat = parseFloat(latInput.value);
    if (!isFinite(lon) || !isFinite(lat)) { showSystems(null); return Promise.resolve(); }
    var ticket = ++pending;
    var url = cfg.convertUrl + '?lon=' + encodeURIComponent(lon) + '&lat=' + encodeURIComponent(lat) +
      '&crs=' + encodeURIComponent(crsInput.value || 'wgs84');
    return C.getJSON(url).then(function (doc) {
      if (ticket !== pending) { return; }
      showSystems(doc.positions);
      var w = doc.positions.wgs84;
      if (movePin) { placePin(w[1], w[0], zoom); }
    }).catch(function (err) { say(err.message); });
  }

  /* A WGS-84 position from the pin, GPS or the geocoder into the form. */
  function setWgs84(lon, lat, exact) {
    lonInput.value = fixed(lon);
    latInput.value = fixed(lat);
    crsInput.value = 'wgs84';
    if (exact && precision) { precision.value = 'exact'; }
    return refresh(false);
  }

  pin.on('dragend', function () {
    var ll = pin.getLatLng();
    el.setAttribute('data-pin', fixed(ll.lng) + ',' + fixed(ll.lat));
    setWgs84(ll.lng, ll.lat, true).then(function () { el.setAttribute('data-moved', '1'); });
  });
  if (cfg.editable) {
    map.on('click', function (e) {
      placePin(e.latlng.lat, e.latlng.lng);
      setWgs84(e.latlng.lng, e.latlng.lat, true);
    });
  }
  [lonInput, latInput, crsInput].forEach(function (input) {
    input.addEventListener('change', function () { refresh(true); });
  });

  // use my position (WGS-84 from the device)
  var locate = document.getElementById('ms-locate');
  if (locate && cfg.editable && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener('click', function () {
      say(text.locating);
      navigator.geolocation.getCurrentPosition(function (pos) {
        var c = pos.coords;
        placePin(c.latitude, c.longitude, 17);
        setWgs84(c.longitude, c.latitude, true);
        say(text.located + (isFinite(c.accuracy) ? ' ±' + Math.round(c.accuracy) + ' m' : ''));
      }, function (err) {
        say(text.locateFailed + (err && err.message ? ' (' + err.message + ')' : ''));
      }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 });
    });
  }

  // address search through the public geocode API
  var search = document.getElementById('ms-search');
  var q = document.getElementById('ms-address-q');
  var go = document.getElementById('ms-address-go');
  function find() {
    var value = (q.value || '').trim();
    if (!value) { return; }
    say(text.searching);
    C.getJSON(cfg.geocodeUrl + '?q=' + encodeURIComponent(value)).then(function (doc) {
      placePin(doc.lat, doc.lon, 15);
      setWgs84(doc.lon, doc.lat, false);
      if (precision && doc.precision) { precision.value = doc.precision; }
      say((text.found || '') + ' ' + (doc.formatted || ''));
    }).catch(function (err) { say(err.message); });
  }
  if (search && cfg.editable && cfg.geocodeUrl) {
    search.hidden = false;
    go.addEventListener('click', find);
    q.addEventListener('keydown', function (e) {
      if (e.key === 'Enter') { e.preventDefault(); find(); }
    });
  }

  // start: the stored (or typed) position, else China
  if (lonInput.value && latInput.value) {
    refresh(true, 15);
  } else if (isFinite(cfg.lon) && isFinite(cfg.lat) && cfg.lon !== null) {
    placePin(cfg.lat, cfg.lon, 15);
  } else {
    map.setView([35, 105], 4);
  }
  el.setAttribute('data-ready', '1');
}(window.Yizhan || (window.Yizhan = {})));
