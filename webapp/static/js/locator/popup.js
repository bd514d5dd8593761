/*
 * Yizhan locator: the popup of a selected station (name, tags, facts, links), built as DOM
 * nodes with textContent, never innerHTML. Needs i18n.js, common.js, locator/format.js;
 * exposes window.Yizhan.locator.buildPopup(feature, app).
 */
(function (Y) {
  'use strict';

  var t = Y.i18n.t;
  var has = Y.i18n.has;
  var C = Y.common;
  var el = C.el;
  var isBlank = Y.common.isBlank;
  var F = Y.locator.format;

  /** The popup content of `feature`; `app` gives kinds, services, travelText, stationHref. */
  function buildPopup(feature, app) {
    var p = feature.properties || {};
    var c = feature.geometry && feature.geometry.coordinates;
    var root = el('div', 'yz-popup');
    root.setAttribute('data-station-id', String(p.id));

    root.appendChild(C.dataEl('h3', 'yz-popup-name', F.stationName(p)));
    if (!isBlank(p.name_en)) {
      var en = C.dataEl('p', 'yz-popup-name-en', p.name_en);
      en.setAttribute('lang', 'en');
      root.appendChild(en);
    }

    var tags = el('p', 'yz-popup-tags');
    tags.appendChild(el('span', 'yz-tag yz-tag--kind', F.kindLabel(p, app.kinds)));
    if (p.status && p.status !== 'open' && has('status.' + p.status)) {
      tags.appendChild(el('span', 'yz-tag yz-tag--status', t('status.' + p.status)));
    }
    if (p.demo) { tags.appendChild(el('span', 'yz-tag yz-tag--demo', t('demoBadge'))); }
    root.appendChild(tags);

    var dl = el('dl', 'yz-popup-facts');
    function fact(label, valueNode) {
      dl.appendChild(el('dt', null, label));
      var dd = el('dd');
      dd.appendChild(valueNode);
      dl.appendChild(dd);
    }
    var travel = typeof p.minutes === 'number' ? app.travelText(p.minutes) : null;
    if (travel) { fact(t('travel'), document.createTextNode(travel)); }   // null: too far
    if (typeof p.distance_m === 'number') {
      fact(t('distance'), document.createTextNode(F.formatDistance(p.distance_m)));
    }
    var labels = F.serviceLabels(p, app.services);
    if (labels.length) {
      var ul = el('ul', 'yz-services');
      labels.forEach(function (s) { ul.appendChild(el('li', 'yz-service', s)); });
      fact(t('services'), ul);
    }
    if (!isBlank(p.hours) || p.open_now === true || p.open_now === false) {
      var hours = el('span');
      if (!isBlank(p.hours)) { hours.appendChild(C.dataEl('span', 'yz-hours', p.hours)); }
      if (p.open_now === true || p.open_now === false) {
        var txt = p.open_now ? t('openNow') : t('closedNow');
        if (p.open_now && !isBlank(p.closes_at)) { txt += ' · ' + t('closesAt', { time: p.closes_at }); }
        hours.appendChild(el('span', 'yz-open yz-open--' + (p.open_now ? 'yes' : 'no'), txt));
      }
      fact(t('hours'), hours);
    }
    if (!isBlank(p.phone)) {
      var href = F.telHref(p.phone);
      var phone;
      if (href) {
        phone = C.dataEl('a', 'yz-phone', p.phone);
        phone.setAttribute('href', href);
      } else {
        phone = C.dataEl('span', null, p.phone);
      }
      fact(t('phone'), phone);
    }
    var addr = F.stationAddress(p);
    if (addr) {
      var a = el('span');
      a.appendChild(C.dataEl('span', 'yz-address', addr));
      if (p.demo || (p.precision && p.precision !== 'exact')) {
        var prec = has('precision.' + p.precision) ? t('precision.' + p.precision) : '';
        a.appendChild(el('span', 'yz-approx',
          t('approxNote', { text: t('approx') + (prec ? t('sep') + prec : '') })));
      }
      fact(t('address'), a);
    }
    root.appendChild(dl);

    var links = el('p', 'yz-popup-links');
    var more = el('a', 'yz-nav yz-details', t('details'));
    more.setAttribute('href', app.stationHref(p.id));
    if (app.cfg.embed) { more.setAttribute('target', '_blank'); more.setAttribute('rel', 'noopener'); }
    links.appendChild(more);
    if (Array.isArray(c) && c.length >= 2) {
      var nav = el('a', 'yz-nav yz-amap', t('navigate'));
      nav.setAttribute('href', F.amapHref(c[0], c[1], p.name));
      nav.setAttribute('target', '_blank');
      nav.setAttribute('rel', 'noopener noreferrer');
      links.appendChild(nav);
    }
    root.appendChild(links);
    return root;
  }

  Y.locator.buildPopup = buildPopup;
}(window.Yizhan = window.Yizhan || {}));
